"""The experiment registry: names → ``run(cfg) -> metrics`` functions.

An experiment module registers itself with ``@register("name")``; the config file
``conf/experiment/<name>.yaml`` sets ``task: <name>`` and the runner calls the function.
"""

from __future__ import annotations

from typing import Callable, Mapping

from omegaconf import DictConfig

RunFn = Callable[[DictConfig], Mapping[str, float]]

REGISTRY: dict[str, RunFn] = {}


def register(name: str) -> Callable[[RunFn], RunFn]:
    """Decorator: register ``run(cfg) -> {metric: number}`` under ``name``."""

    def decorate(fn: RunFn) -> RunFn:
        if name in REGISTRY and REGISTRY[name] is not fn:
            raise ValueError(f"experiment {name!r} is registered twice")
        REGISTRY[name] = fn
        return fn

    return decorate


def get_experiment(name: str) -> RunFn:
    """The run function registered as ``name`` (importing the bundled experiments first)."""
    import lconv_cli.experiments  # noqa: F401  (registers the bundled experiments)

    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no experiment registered as {name!r}; registered: {', '.join(sorted(REGISTRY))}") from None
