"""The experiment registry: names → ``run(cfg) -> metrics`` functions, and the value rules each declares.

An experiment module registers itself with ``@register("name")``; the config file
``conf/experiment/<name>.yaml`` sets ``task: <name>`` and the runner calls the function.

Where the modules come from: every module of the package ``lconv_cli.experiments`` (found with
``pkgutil``, so a new bundled experiment is a new file there and nothing else), and for a name no
bundled module registers, the module an installed distribution names in an entry point of the group
``lconv.experiments`` (``<name> = <module>``; see ``lconv_cli.runner.plugins``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from lconv_cli.errors import UserError

if TYPE_CHECKING:
    from lconv_cli.runner.schema import Rule

RunFn = Callable[[DictConfig], Mapping[str, float]]
BUNDLED_PACKAGE = "lconv_cli.experiments"

REGISTRY: dict[str, RunFn] = {}
# The value rules an experiment declares for its own config keys (see lconv_cli.runner.schema).
DECLARED_RULES: dict[str, tuple[tuple[str, Rule], ...]] = {}
# The experiments whose forward passes may run under bfloat16 autocast (trainer.precision=bf16-mixed).
MIXED_PRECISION: set[str] = set()


def register(
    name: str, rules: Iterable[tuple[str, Rule]] = (), mixed_precision: bool = False
) -> Callable[[RunFn], RunFn]:
    """Decorator: register ``run(cfg) -> {metric: number}`` under ``name``.

    Args:
        name: the experiment's name, the ``task`` of its config.
        rules: ``(key pattern, rule)`` pairs for the numeric config keys this experiment introduces,
            e.g. ``[("model.width", POSITIVE_INT)]`` (rules from ``lconv_cli.runner.schema``). They check
            the numeric values of keys the shared ``schema.RULES`` do not cover.
        mixed_precision: the experiment trains and evaluates correctly under
            ``trainer.precision=bf16-mixed`` (its models keep exact computations out of autocast);
            the runner refuses that precision for the others before any work starts.
    """
    from lconv_cli.runner.schema import Number, Numbers

    declared = tuple(rules)
    for item in declared:
        if not (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], (Number, Numbers))
        ):
            raise TypeError(f"experiment {name!r}: each rule is a (key pattern, Number or Numbers) pair, got {item!r}")

    def decorate(fn: RunFn) -> RunFn:
        if name in REGISTRY and REGISTRY[name] is not fn:
            raise ValueError(f"experiment {name!r} is registered twice")
        REGISTRY[name] = fn
        DECLARED_RULES[name] = declared
        if mixed_precision:
            MIXED_PRECISION.add(name)
        return fn

    return decorate


def import_bundled() -> None:
    """Import every module of ``lconv_cli.experiments``: each registers its experiment."""
    package = importlib.import_module(BUNDLED_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__, prefix=f"{BUNDLED_PACKAGE}."):
        importlib.import_module(module.name)


def load_plugin(name: str) -> bool:
    """Import the module an installed distribution declares for ``name`` (entry point group
    ``lconv.experiments``). False when none declares it.

    Raises:
        UserError: (one line, naming the entry point) the module fails to import, several distributions
            declare ``name``, or the module registers no experiment called ``name``.
    """
    from lconv_cli.runner.plugins import EXPERIMENTS_GROUP, describe, entry_points, one_line

    declared = [ep for ep in entry_points(EXPERIMENTS_GROUP) if ep.name == name]
    if not declared:
        return False
    if len(declared) > 1:
        raise UserError(f"experiment '{name}' is declared by several plugins: {', '.join(map(describe, declared))}")
    (entry_point,) = declared
    try:
        entry_point.load()
    except Exception as exc:  # a broken plugin: one line naming it, not a traceback
        raise UserError(f"experiment plugin {describe(entry_point)} failed to import: {one_line(exc)}") from None
    if name not in REGISTRY:
        raise UserError(
            f"experiment plugin {describe(entry_point)} registers no experiment '{name}' "
            f'(decorate its run function with @register("{name}"))'
        )
    return True


def load(name: str) -> None:
    """Make sure whatever registers ``name`` is imported: the bundled experiments, then a plugin."""
    if name in REGISTRY:
        return
    import_bundled()
    if name not in REGISTRY:
        load_plugin(name)


def get_experiment(name: str) -> RunFn:
    """The run function registered as ``name`` (importing the bundled experiments, or its plugin, first)."""
    load(name)
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no experiment registered as {name!r}; registered: {', '.join(sorted(REGISTRY))}") from None


def declared_rules(name: str) -> tuple[tuple[str, Rule], ...]:
    """The value rules experiment ``name`` declares (empty for an unknown name)."""
    load(name)
    return DECLARED_RULES.get(name, ())


def supports_mixed_precision(name: str) -> bool:
    """Whether experiment ``name`` registered with ``mixed_precision=True``."""
    load(name)
    return name in MIXED_PRECISION
