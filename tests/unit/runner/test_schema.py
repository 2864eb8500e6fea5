"""The value schema covers every numeric key of every experiment config and refuses bad values."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from lconv_cli.errors import UserError
from lconv_cli.runner.schema import Number, Numbers, check_value, numeric_keys, rule_for, validate_config


def _options(group: str) -> list[str]:
    folder = resources.files("lconv_cli.conf").joinpath(group)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


EXPERIMENTS = _options("experiment")
# Every experiment with its own defaults, with every model, and with every option of the groups
# that add keys of their own (image variants, datasets, transforms).
VARIANTS = [(e, ()) for e in EXPERIMENTS] + [(e, (f"model={m}",)) for e in EXPERIMENTS for m in _options("model")]
VARIANTS += [("image_classification", (f"variant={v}",)) for v in _options("variant")]
VARIANTS += [("latent_symmetry", (f"transform={t}",)) for t in _options("transform")]


@cache
def composed(experiment: str, extra: tuple[str, ...]):
    GlobalHydra.instance().clear()
    with initialize_config_module("lconv_cli.conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={experiment}", *extra])
    GlobalHydra.instance().clear()
    return cfg


def _cases() -> list[tuple[str, tuple[str, ...], str]]:
    seen, cases = set(), []
    for experiment, extra in VARIANTS:
        for key in numeric_keys(composed(experiment, extra)):
            if (experiment, key) not in seen:
                seen.add((experiment, key))
                cases.append((experiment, extra, key))
    return cases


CASES = _cases()


def test_every_default_config_is_valid():
    for experiment, extra in VARIANTS:
        validate_config(composed(experiment, extra))


def test_every_numeric_key_has_a_rule():
    missing = sorted({key for experiment, _, key in CASES if rule_for(key, experiment) is None})
    assert not missing, f"add these keys to lconv_cli/runner/schema.py RULES (or the experiment's rules): {missing}"


@pytest.mark.parametrize("experiment, extra, key", CASES, ids=[f"{e}:{k}" for e, _, k in CASES])
def test_every_numeric_key_refuses_an_invalid_value(experiment, extra, key):
    cfg = OmegaConf.create(OmegaConf.to_container(composed(experiment, extra), resolve=False))
    bad = rule_for(key, experiment).invalid_example()
    OmegaConf.update(cfg, key, bad, force_add=True)
    with pytest.raises(UserError) as info:
        validate_config(cfg)
    message = str(info.value)
    assert message.startswith(f"{key} must be ") and "\n" not in message


@pytest.mark.parametrize(
    "rule, good, bad",
    [
        (Number(integer=True, low=0, low_open=True), [1, 7], [0, -3, 1.5, None, "x", True]),
        (Number(low=0, high=1, high_open=True, nullable=True), [0, 0.5, None], [1, -0.1, float("nan")]),
        (Number(integer=True, low=0, words=("auto",)), [0, 3, "auto"], [-1, "exact"]),
        (Numbers(Number(), length=2, ordered=True), [[0, 1], [2, 2]], [[1, 0], [1], 3]),
        (Numbers(Number(integer=True, low=1), scalar=True), [4, [1, 2]], [0, [], [1, 0]]),
    ],
)
def test_rules(rule, good, bad):
    assert all(rule.accepts(v) for v in good)
    assert not any(rule.accepts(v) for v in bad)
    assert not rule.accepts(rule.invalid_example())


def test_check_value_names_the_key_and_the_range():
    with pytest.raises(UserError, match=r"^trainer.lr must be a positive number \(or null\); got -1$"):
        check_value("trainer.lr", -1)
    with pytest.raises(UserError, match=r"data.theta_range_deg must be a list of 2"):
        check_value("data.theta_range_deg", [45, 0])
    check_value("not.a.schema.key", -5)
