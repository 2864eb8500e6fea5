"""Import the official LieConv code (mfinzi/LieConv, mfinzi/olive-oil-ml) from a checkout, unmodified.

Only runtime shims are applied, for what current packages removed or the benchmarks do not need;
the official files are never copied or edited:

- NumPy ≥ 1.24 dropped the aliases ``np.int``, ``np.float``, ``np.bool``, ``np.object``: restored
  as the builtins they stood for.
- ``dill``, ``h5py``, ``natsort``, ``sklearn``, ``tensorboardX``, ``torchcontrib``, ``torch_geometric``,
  ``torch_scatter`` (and their submodules) are imported by olive-oil-ml or LieConv
  modules the models do not use: when not installed, they are stand-in modules whose every
  attribute is a class that raises if a benchmark ever instantiates it (usable as a base class at
  import time; ``natsort.natsorted`` is ``sorted``). The finder is added after torch is imported,
  since torch probes for a real ``dill``. (olive-oil-ml falls back by itself when tqdm is missing.)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

STUBBED = ("dill", "h5py", "natsort", "sklearn", "tensorboardX", "torchcontrib", "torch_geometric", "torch_scatter")


class _StandInType(type):
    """Stand-in classes: any attribute is another stand-in class (``torch_geometric.datasets.X``)."""

    def __getattr__(cls, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _unavailable(f"{cls.__qualname__}.{attribute}")


def _unavailable(qualname: str) -> type:
    def refuse(*args, **kwargs):
        raise RuntimeError(f"{qualname} is a stand-in (official_shims): the benchmark should not need it")

    return _StandInType(qualname, (), {"__init__": refuse, "__qualname__": qualname})


class _StandIn(types.ModuleType):
    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _unavailable(f"{self.__name__}.{attribute}")


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the stubbed packages and any of their submodules (after the real finders, so an installed
    package is used as it is)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in STUBBED:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StandIn(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        if module.__name__ == "natsort":
            module.natsorted = sorted


def apply_shims() -> None:
    """NumPy aliases and stand-ins for the unused optional imports (idempotent)."""
    import numpy as np
    import torch  # noqa: F401  (before the stand-ins: torch looks for a real dill)

    for alias, builtin in {"int": int, "float": float, "bool": bool, "object": object}.items():
        if alias not in np.__dict__:
            setattr(np, alias, builtin)
    if not any(isinstance(finder, _StandInFinder) for finder in sys.meta_path):
        sys.meta_path.append(_StandInFinder())


def import_official(lieconv_src: str, oil_src: str | None = None) -> types.SimpleNamespace:
    """The official modules ``lie_conv.lieConv``, ``lie_conv.lieGroups`` and (with ``oil_src``)
    ``lie_conv.moleculeTrainer``, imported from the given checkouts."""
    apply_shims()
    sys.path[:0] = [path for path in (lieconv_src, oil_src) if path and path not in sys.path]
    namespace = types.SimpleNamespace(
        lieConv=importlib.import_module("lie_conv.lieConv"), lieGroups=importlib.import_module("lie_conv.lieGroups")
    )
    if oil_src:
        namespace.moleculeTrainer = importlib.import_module("lie_conv.moleculeTrainer")
    return namespace
