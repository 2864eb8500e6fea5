"""Checking overrides before Hydra runs them, so that user errors print one clear line (exit code 2).

Hydra's own messages are several lines with a config-search-path dump; here each failure
becomes a :class:`~lconv_cli.errors.UserError` naming the problem and the valid choices or fix.
The check composes the config once per distinct group choice in a sweep and compares
each overridden value's type with the type of the value it replaces. Which override Hydra refused
is found from Hydra's typed exceptions and by replaying the overrides on the config they apply to
(:func:`refused_override`), never by reading Hydra's message text.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.object_type import ObjectType
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from lconv_cli.errors import UserError

CONFIG_MODULE = "lconv_cli.conf"
CONFIG_NAME = "config"
# Hydra plugin configs → the extra of this package that installs the plugin.
PLUGIN_EXTRAS = {
    "hydra/launcher/joblib": "joblib",
    "hydra/launcher/submitit_slurm": "slurm",
    "hydra/launcher/submitit_local": "slurm",
}
INTERNAL_GROUPS = ("hydra", "experiment_scale")
_ABSENT = object()


@contextmanager
def config_loader() -> Iterator[Any]:
    """Hydra's config loader for the bundled config tree (outside any running Hydra app)."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        yield GlobalHydra.instance().config_loader()


def list_groups(loader: Any, parent: str = "", overrides: list[str] | tuple[str, ...] = ()) -> list[str]:
    """All user-facing config groups, nested ones as ``a/b``, in the search path ``overrides`` give
    (``hydra.searchpath``: plugin configs)."""
    groups = []
    options = loader.get_group_options(
        parent, results_filter=ObjectType.GROUP, config_name=CONFIG_NAME, overrides=list(overrides)
    )
    for name in options:
        path = f"{parent}/{name}" if parent else name
        if path.split("/")[0] in INTERNAL_GROUPS:
            continue
        groups.append(path)
        groups.extend(list_groups(loader, path, overrides))
    return sorted(groups)


def searchpath_overrides(overrides: list[str]) -> list[str]:
    """The ``hydra.searchpath`` overrides among ``overrides`` (what config group listings need)."""
    return [o for o in overrides if o.split("=", 1)[0].lstrip("+") == "hydra.searchpath"]


def _flat_keys(cfg: Any, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(cfg, DictConfig):
        for key in cfg:
            path = f"{prefix}.{key}" if prefix else str(key)
            keys.append(path)
            keys.extend(_flat_keys(cfg._get_node(key), path))
    return keys


def _missing_config_message(exc: MissingConfigException) -> str:
    missing = exc.missing_cfg_file or ""
    if missing in PLUGIN_EXTRAS:
        extra = PLUGIN_EXTRAS[missing]
        return f"the '{missing.rsplit('/', 1)[1]}' launcher needs a Hydra plugin: pip install 'lconv_cli[{extra}]'"
    if missing.startswith("hydra/"):
        return f"Hydra config '{missing}' not found: install the Hydra plugin that provides it"
    group, _, choice = missing.rpartition("/")
    if group.startswith("experiment_scale"):
        experiment, scale = missing.split("/")[1:3]
        return f"experiment '{experiment}' has no '{scale}' scale (expected conf/experiment_scale/{missing}.yaml)"
    if not group:
        return f"config '{missing}' not found"
    options = ", ".join(sorted(exc.options or []))
    return f"unknown {group} '{choice}'; choose one of: {options}"


def explain(exc: Exception) -> str:
    """One line for a Hydra/OmegaConf exception no override check explained (a missing config, a parse error)."""
    if isinstance(exc, MissingConfigException):
        return _missing_config_message(exc)
    text = str(exc).strip()
    if isinstance(exc, OverrideParseException):
        return f"cannot parse override: {text.splitlines()[0]}"
    return text.splitlines()[0] if text else type(exc).__name__


def _unknown_key_message(key: str, cfg: DictConfig) -> str:
    known = [k for k in _flat_keys(cfg) if k.split(".")[0] != "hydra"]
    if OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=False) is not _ABSENT:
        return f"'{key}' is a mapping that cannot take new keys this way; add each with +{key}.<name>=<value>"
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"to add a new key use +{key}=..."
    return f"unknown config key '{key}'; {hint}"


def _apply(cfg: DictConfig, override: Override) -> str | None:
    """Apply a value override to ``cfg`` as Hydra does (its ``_apply_overrides_to_config``); the one-line
    reason if Hydra would refuse it for its key, else None (also for refusals this cannot name)."""
    key = override.key_or_group
    try:
        value = override.value()
        exists = OmegaConf.select(cfg, key, throw_on_missing=False) is not None
        if override.is_delete():
            if exists:
                parent, _, leaf = key.rpartition(".")
                node = OmegaConf.select(cfg, parent) if parent else cfg
                with open_dict(cfg):
                    del node[leaf]
        elif override.is_add():
            if exists and not isinstance(value, (dict, list)):
                return f"'{key}' already exists: drop the '+' to change it"
            OmegaConf.update(cfg, key, value, merge=True, force_add=True)
        elif override.is_force_add():
            OmegaConf.update(cfg, key, value, merge=True, force_add=True)
        else:
            try:
                OmegaConf.update(cfg, key, value, merge=True)
            except (ConfigAttributeError, ConfigKeyError):
                return _unknown_key_message(key, cfg)
    except OmegaConfBaseException:
        return None
    return None


def _group_exists(loader: Any, key: str, searchpath: list[str]) -> bool:
    parent, _, name = key.rpartition("/")
    options = loader.get_group_options(
        parent, results_filter=ObjectType.GROUP, config_name=CONFIG_NAME, overrides=searchpath
    )
    return name in options


def refused_override(variant: list[str]) -> str | None:
    """Why Hydra refuses one of the value overrides of ``variant`` (no sweeps), as one line; None if none is.

    Composes the config of the variant's group choices (with Hydra's node) and replays the other
    overrides on it in order, with Hydra's rules: ``key=`` needs an existing key (and a mapping takes
    no new keys), ``+key=`` a new one. Needs a Hydra initialised for the config (``config_loader``).
    """
    loader = GlobalHydra.instance().config_loader()
    searchpath = searchpath_overrides(variant)
    parsed = OverridesParser.create().parse_overrides(variant)
    # As Hydra tells them: a group choice names a config group and is not a mapping.
    choices = [
        o for o in parsed if not isinstance(o.value(), dict) and _group_exists(loader, o.key_or_group, searchpath)
    ]
    try:
        cfg = compose(CONFIG_NAME, overrides=[o.input_line for o in choices] + searchpath, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException):
        return None
    cfg = copy.deepcopy(cfg)
    OmegaConf.set_struct(cfg, True)
    for override in parsed:
        if override in choices or override.package is not None:
            continue
        problem = _apply(cfg, override)
        if problem:
            return problem
    return None


def _compose(variant: list[str], return_hydra_config: bool = False) -> DictConfig:
    """The config ``variant`` composes to; UserError (one line) if Hydra refuses it."""
    try:
        return compose(CONFIG_NAME, overrides=variant, return_hydra_config=return_hydra_config)
    except MissingConfigException as exc:
        raise UserError(explain(exc)) from None
    except (HydraException, OmegaConfBaseException) as exc:
        raise UserError(refused_override(variant) or explain(exc)) from None


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean (true/false)"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, (list, ListConfig)):
        return "a list"
    if isinstance(value, (dict, DictConfig)):
        return "a mapping"
    return "a string"


def type_mismatch(old: Any, new: Any) -> str | None:
    """Why ``new`` cannot replace ``old`` (None if it can). null on either side is always allowed;
    integers may replace numbers; a string accepts whatever Hydra parsed."""
    if old is None or new is None:
        return None
    expected = f"expects {_type_name(old)}"
    if isinstance(old, bool):
        return None if isinstance(new, bool) else expected
    if isinstance(old, int):
        return None if isinstance(new, int) and not isinstance(new, bool) else expected
    if isinstance(old, float):
        return None if isinstance(new, (int, float)) and not isinstance(new, bool) else expected
    if isinstance(old, (list, ListConfig)):
        return None if isinstance(new, (list, ListConfig)) else expected
    if isinstance(old, (dict, DictConfig)):
        return None if isinstance(new, (dict, DictConfig)) else expected
    return None


def _values(override: Override) -> list[str]:
    if override.is_sweep_override():
        return list(override.sweep_string_iterator()) if override.is_discrete_sweep() else []
    return [override.get_value_element_as_str()]


def _is_structural(override: Override, groups: set[str]) -> bool:
    """Group choices, Hydra's own settings and deletions shape the config; other overrides set values."""
    return override.key_or_group in groups or override.is_hydra_override() or override.is_delete()


def _variants(parsed: list[Override], groups: set[str]) -> list[list[str]]:
    """Override lists to compose: every sweep at its first value, plus one per other group choice.

    A continuous sweep (``interval(...)``) cannot be enumerated and is left out of every list.
    """
    first: list[str | None] = []
    for override in parsed:
        values = _values(override)
        if override.is_delete():
            first.append(override.input_line)
        else:
            first.append(f"{override.get_key_element()}={values[0]}" if values else None)
    variants = [first]
    for i, override in enumerate(parsed):
        if override.key_or_group in groups and override.is_sweep_override():
            for value in _values(override)[1:]:
                variant = list(first)
                variant[i] = f"{override.get_key_element()}={value}"
                variants.append(variant)
    return [[item for item in variant if item is not None] for variant in variants]


def check_overrides(overrides: list[str], multirun: bool = False) -> DictConfig:
    """Raise UserError (one line) if the overrides do not make a valid config (sweeps need ``multirun``)
    or set a value the schema refuses (``lconv_cli.runner.schema``, for every value of a sweep).

    Returns the config of the first job, with its ``hydra`` node (run and sweep directories).
    """
    from lconv_cli.runner.schema import check_value, experiment_of, validate_config

    with config_loader() as loader:
        parser = OverridesParser.create(config_loader=loader)
        try:
            parsed = parser.parse_overrides(overrides)
        except HydraException as exc:
            raise UserError(explain(exc)) from None
        sweeps = [o.input_line for o in parsed if o.is_sweep_override()]
        if sweeps and not multirun:
            raise UserError(f"'{sweeps[0]}' is a sweep: add -m to run one job per value, or write key=[a,b] for a list")
        groups = {*list_groups(loader, overrides=searchpath_overrides(overrides)), "hydra/launcher", "hydra/sweeper"}
        structural = [o for o in parsed if _is_structural(o, groups)]
        base = _compose(_variants(structural, groups)[0])
        composed = [_compose(variant, return_hydra_config=True) for variant in _variants(parsed, groups)]
        experiments = sorted({experiment_of(cfg) for cfg in composed} - {None})
        for override in parsed:
            if _is_structural(override, groups) or override.is_add() or override.is_force_add():
                continue
            key = override.key_or_group
            old = OmegaConf.select(base, key, throw_on_missing=False, throw_on_resolution_failure=False)
            for value in _values(override):
                new = parser.parse_override(f"{key}={value}").value()
                if isinstance(new, (ListConfig, DictConfig)):
                    new = OmegaConf.to_container(new)
                problem = type_mismatch(old, new)
                if problem:
                    raise UserError(f"{key} {problem}, got {value!r}")
                if override.is_sweep_override():
                    for experiment in experiments:
                        check_value(key, new, experiment)
        for cfg in composed:
            validate_config(cfg)
        return composed[0]
