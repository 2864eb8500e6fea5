"""Experiments and configs shipped by other distributions (plugins), found without editing lconv.

A distribution declares, in its packaging metadata (see ``docs/extending.md``):

- entry points in the group ``lconv.experiments``: ``<experiment name> = <module>``; importing the
  module registers ``run`` with ``@register("<experiment name>")`` (see ``lconv_cli.runner.registry``);
- entry points in the group ``lconv.configs``: ``<any name> = <config package>``, a package holding
  ``experiment/<name>.yaml``, ``experiment_scale/<name>/<scale>.yaml`` and any other config group files.

Config folders can also be named in the environment variable ``LCONV_CONFIG_PATH`` (``os.pathsep``
separated; ``pkg://package`` or a directory). Every config source is appended to Hydra's search path
(``hydra.searchpath``) after the bundled configs, which come first: a bundled config wins a name clash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from lconv_cli.errors import UserError

EXPERIMENTS_GROUP = "lconv.experiments"
CONFIGS_GROUP = "lconv.configs"
CONFIG_PATH_ENV = "LCONV_CONFIG_PATH"
BUNDLED_ORIGIN = "lconv_cli"


@dataclass(frozen=True)
class ConfigSource:
    """A folder of configs: ``path`` as Hydra's search path takes it (``pkg://package`` or ``file:///dir``),
    ``origin`` the distribution that ships it (or ``LCONV_CONFIG_PATH``), ``label`` how errors name it."""

    path: str
    origin: str
    label: str

    def folder(self) -> Any:
        """The config folder (a ``Traversable``; importing the package of a ``pkg://`` path)."""
        if self.path.startswith("pkg://"):
            return resources.files(self.path.removeprefix("pkg://"))
        return Path(self.path.removeprefix("file://"))

    def problem(self) -> str | None:
        """Why this source cannot be read, in one line (its package fails to import, say); None if it can."""
        try:
            if self.folder().is_dir():
                return None
            reason = "no such folder"
        except Exception as exc:  # a plugin's package that fails to import: named, no traceback
            reason = one_line(exc)
        return f"the configs of {self.label} cannot be read: {reason}"

    def experiments(self) -> dict[str, str]:
        """Experiment name → the text of its ``experiment/<name>.yaml`` in this source."""
        folder = self.folder().joinpath("experiment")
        if not folder.is_dir():
            return {}
        return {p.name[: -len(".yaml")]: p.read_text() for p in folder.iterdir() if p.name.endswith(".yaml")}


BUNDLED = ConfigSource("pkg://lconv_cli.conf", BUNDLED_ORIGIN, "lconv_cli")


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``: an exception as a one-line error."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def entry_points(group: str) -> list[metadata.EntryPoint]:
    """The installed entry points of ``group``, in a stable order (by distribution, then name)."""
    found = metadata.entry_points(group=group)
    return sorted(found, key=lambda ep: (distribution(ep), ep.name))


def distribution(entry_point: metadata.EntryPoint) -> str:
    """The name of the distribution that declares ``entry_point`` ("?" if unknown)."""
    return entry_point.dist.name if entry_point.dist is not None else "?"


def describe(entry_point: metadata.EntryPoint) -> str:
    """``'name = value' (group, distribution)``: how errors name an entry point."""
    return f"'{entry_point.name} = {entry_point.value}' ({entry_point.group}, {distribution(entry_point)})"


def _env_sources() -> list[ConfigSource]:
    sources = []
    for entry in filter(None, os.environ.get(CONFIG_PATH_ENV, "").split(os.pathsep)):
        path = entry if entry.startswith(("pkg://", "file://")) else f"file://{Path(entry).resolve()}"
        sources.append(ConfigSource(path, CONFIG_PATH_ENV, f"{CONFIG_PATH_ENV} entry {entry!r}"))
    return sources


def plugin_config_sources() -> list[ConfigSource]:
    """The config sources of plugins (entry points of ``lconv.configs``), then those of ``LCONV_CONFIG_PATH``."""
    sources = [
        ConfigSource(f"pkg://{ep.value.strip()}", distribution(ep), f"plugin {describe(ep)}")
        for ep in entry_points(CONFIGS_GROUP)
    ]
    return sources + _env_sources()


def readable_plugin_sources() -> tuple[list[ConfigSource], list[str]]:
    """The plugin config sources that can be read, and a one-line problem for each of the others
    (skipped, so that a broken plugin does not stop the bundled experiments)."""
    sources, problems = [], []
    for source in plugin_config_sources():
        problem = source.problem()
        if problem is None:
            sources.append(source)
        else:
            problems.append(problem)
    return sources, problems


def with_plugin_searchpath(overrides: list[str]) -> list[str]:
    """``overrides`` with the plugin config sources appended to ``hydra.searchpath`` (unchanged without plugins).

    A ``hydra.searchpath=[...]`` the user gave keeps its entries, first.
    """
    paths = [source.path for source in readable_plugin_sources()[0]]
    if not paths:
        return overrides
    from hydra.core.override_parser.types import Quote, QuotedString

    user = [o for o in overrides if o.split("=", 1)[0].lstrip("+") == "hydra.searchpath"]
    kept = [o for o in overrides if o not in user]
    user_paths = _listed_paths(user[-1]) if user else []
    entries = ",".join(QuotedString(text=path, quote=Quote.single).with_quotes() for path in [*user_paths, *paths])
    return [*kept, f"hydra.searchpath=[{entries}]"]


def _listed_paths(override: str) -> list[str]:
    """The paths of a ``hydra.searchpath=[...]`` override (UserError if it is not a list of strings)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        value = OverridesParser.create().parse_override(override).value()
    except OverrideParseException as exc:
        raise UserError(f"cannot parse override: {str(exc).strip().splitlines()[0]}") from None
    if not isinstance(value, list):
        raise UserError(f"hydra.searchpath must be a list of config paths, got {value!r}")
    return [str(path) for path in value]


@dataclass(frozen=True)
class ExperimentConfig:
    """An experiment config found in a config source: its ``description`` and ``origin`` distribution."""

    name: str
    description: str
    origin: str


def experiment_configs() -> dict[str, ExperimentConfig]:
    """Every experiment config of every readable source, by name; the first source holding a name wins
    (the bundled configs first, as in Hydra's search path)."""
    from omegaconf import OmegaConf

    found: dict[str, ExperimentConfig] = {}
    for source in [BUNDLED, *readable_plugin_sources()[0]]:
        for name, text in sorted(source.experiments().items()):
            if name not in found:
                description = str(OmegaConf.create(text).get("description", ""))
                found[name] = ExperimentConfig(name, description, source.origin)
    return dict(sorted(found.items()))
