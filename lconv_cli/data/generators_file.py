"""The generators file: discovered generators saved by a run, loadable as fixed L-conv generators.

A discovery run writes ``generators.pt`` in its run directory; any experiment with an L-conv
layer takes ``generators=<path>`` and uses them as fixed (untrained) generators. The file is a
``torch.save`` dict:

    format:     "lconv-generators/1"
    generators: (k, d, d) float64 tensor, the discovered generators (acting on flattened signals)
    shape:      the signal shape they act on, e.g. [7, 7] (d = product)
    names:      k labels
    source:     {task, run directory, metric values} of the run that found them
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from lconv_cli.errors import UserError

FORMAT = "lconv-generators/1"
FILE_NAME = "generators.pt"


def save_generators(
    path: str | Path,
    generators: torch.Tensor | Sequence[torch.Tensor],
    shape: Sequence[int],
    names: Sequence[str] | None = None,
    source: Mapping[str, object] | None = None,
) -> Path:
    """Write k generators acting on signals of ``shape`` to ``path``; returns the path."""
    gens = torch.stack([torch.as_tensor(g) for g in generators]) if not torch.is_tensor(generators) else generators
    gens = gens.detach().to(torch.float64).cpu()
    if gens.ndim == 2:
        gens = gens[None]
    dim = 1
    for s in shape:
        dim *= int(s)
    if gens.shape[1:] != (dim, dim):
        raise ValueError(f"generators of shape {tuple(gens.shape)} do not act on signals of shape {tuple(shape)}")
    names = list(names) if names is not None else [f"L{i}" for i in range(gens.shape[0])]
    path = Path(path)
    torch.save(
        {
            "format": FORMAT,
            "generators": gens,
            "shape": [int(s) for s in shape],
            "names": names,
            "source": dict(source or {}),
        },
        path,
    )
    return path


def load_generators(path: str | Path, dim: int | None = None, count: int | None = None) -> dict:
    """Read a generators file; check it acts on ``dim``-pixel signals and holds ``count`` generators.

    A run directory is accepted for its ``generators.pt``. Problems are one-line UserErrors.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    if not path.is_file():
        raise UserError(f"generators: no file at {path} (give a run directory or its {FILE_NAME})")
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a corrupt or foreign file
        raise UserError(f"generators: cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"generators: {path} is not an lconv generators file (format {FORMAT!r})")
    gens = data["generators"]
    if dim is not None and gens.shape[1] != dim:
        raise UserError(
            f"generators: {path} acts on signals of shape {data['shape']} ({gens.shape[1]} values); this model needs {dim}"
        )
    if count is not None and gens.shape[0] != count:
        raise UserError(f"generators: {path} holds {gens.shape[0]} generators; this model needs {count}")
    return data


def generator_paths(value: object) -> list[str]:
    """The ``generators=`` value as a list of paths: None → [], one path → [it], a list → its items."""
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [str(value)]
    return [str(item) for item in value]


def load_generator_files(value: object, dim: int | None = None) -> torch.Tensor:
    """(k, d, d) float64: the generators of every file ``generators=`` names, concatenated in order."""
    paths = generator_paths(value)
    if not paths:
        raise UserError("generators: no file given")
    return torch.cat([load_generators(path, dim=dim)["generators"] for path in paths])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def provenance(path: str | Path) -> dict:
    """Where a generators file came from, for the record of a run that uses it: the file (resolved
    path, sha256, shape, names) and the discovery run it names (directory, task, the sha256 of that
    run's ``config.yaml`` when it is still there, else None, and the metric values it recorded)."""
    data = load_generators(path)
    file = Path(path)
    file = (file / FILE_NAME if file.is_dir() else file).resolve()
    source = dict(data.get("source") or {})
    run_dir = source.get("run_dir")
    config = Path(run_dir) / "config.yaml" if run_dir else None
    return {
        "file": str(file),
        "file_sha256": _sha256(file),
        "shape": data["shape"],
        "count": int(data["generators"].shape[0]),
        "names": data["names"],
        "discovery_run": run_dir,
        "discovery_task": source.get("task"),
        "discovery_config_sha256": _sha256(config) if config is not None and config.is_file() else None,
        "discovery_metrics": {  # JSON has no NaN: a metric that was not measured is null
            key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in (source.get("metrics") or {}).items()
        },
    }
