"""Checking overrides before Hydra runs them, so that user errors print one clear line (exit code 2).

Hydra's own messages are several lines with a config-search-path dump; here each failure
becomes a :class:`~lconv_cli.errors.UserError` naming the problem and the valid choices or fix.
The check composes the config once per distinct group choice in a sweep and compares
each overridden value's type with the type of the value it replaces.
"""

from __future__ import annotations

import difflib
import re
from contextlib import contextmanager
from typing import Any, Iterator

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

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


@contextmanager
def config_loader() -> Iterator[Any]:
    """Hydra's config loader for the bundled config tree (outside any running Hydra app)."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        yield GlobalHydra.instance().config_loader()


def list_groups(loader: Any, parent: str = "") -> list[str]:
    """All user-facing config groups, nested ones as ``a/b``."""
    groups = []
    for name in loader.list_groups(parent):
        path = f"{parent}/{name}" if parent else name
        if path.split("/")[0] in INTERNAL_GROUPS:
            continue
        groups.append(path)
        groups.extend(list_groups(loader, path))
    return sorted(groups)


def _flat_keys(cfg: Any, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(cfg, DictConfig):
        for key in cfg.keys():
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


def explain(exc: Exception, known_keys: list[str]) -> str:
    """One line for a Hydra/OmegaConf composition error."""
    if isinstance(exc, MissingConfigException):
        return _missing_config_message(exc)
    text = str(exc)
    match = re.search(r"Could not override '([^']+)'", text)
    if match:
        key = match.group(1)
        if key in known_keys or any(k.startswith(f"{key}.") for k in known_keys):
            return f"'{key}' is a mapping that cannot take new keys this way; add each with +{key}.<name>=<value>"
        close = difflib.get_close_matches(key, known_keys, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"to add a new key use +{key}=..."
        return f"unknown config key '{key}'; {hint}"
    match = re.search(r"An item is already at '([^']+)'", text)
    if match:
        return f"'{match.group(1)}' already exists: drop the '+' to change it"
    match = re.search(r"Ambiguous value for argument '([^']+)'", text)
    if match:
        return f"'{match.group(1)}' is a sweep: add -m to run one job per value, or write key=[a,b] for a list"
    if isinstance(exc, OverrideParseException):
        return f"cannot parse override: {text.splitlines()[0]}"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


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
    from lconv_cli.runner.schema import check_value, validate_config

    with config_loader() as loader:
        parser = OverridesParser.create(config_loader=loader)
        try:
            parsed = parser.parse_overrides(overrides)
        except HydraException as exc:
            raise UserError(explain(exc, [])) from None
        sweeps = [o.input_line for o in parsed if o.is_sweep_override()]
        if sweeps and not multirun:
            raise UserError(f"'{sweeps[0]}' is a sweep: add -m to run one job per value, or write key=[a,b] for a list")
        groups = set(list_groups(loader)) | {"hydra/launcher", "hydra/sweeper"}
        structural = [o for o in parsed if _is_structural(o, groups)]
        try:
            base = compose(CONFIG_NAME, overrides=_variants(structural, groups)[0])
        except (HydraException, OmegaConfBaseException) as exc:
            raise UserError(explain(exc, [])) from None
        known = _flat_keys(base)
        composed = []
        for variant in _variants(parsed, groups):
            try:
                composed.append(compose(CONFIG_NAME, overrides=variant, return_hydra_config=True))
            except (HydraException, OmegaConfBaseException) as exc:
                raise UserError(explain(exc, known)) from None
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
                    check_value(key, new)
        for cfg in composed:
            validate_config(cfg)
        return composed[0]
