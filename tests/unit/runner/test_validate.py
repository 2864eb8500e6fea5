"""Overrides are checked before a run: user errors become one clear line."""

import pytest
from hydra.errors import MissingConfigException

from lconv_cli.errors import UserError
from lconv_cli.runner.validate import check_overrides, explain, type_mismatch


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["experiment=nope"],
            "unknown experiment 'nope'; choose one of: algebra_discovery, image_classification, image_generators, latent_symmetry, lieconv_qm9, lieconv_rotmnist, lieconv_springs, so2_discovery, symmetry_from_samples, translation_1d",
        ),
        (["scale=huge"], "unknown scale 'huge'; choose one of: paper, quick, smoke"),
        (["trainer.max_stpes=3"], "unknown config key 'trainer.max_stpes'; did you mean 'trainer.max_steps'?"),
        (["trainer.lr=fast"], "trainer.lr expects a number, got 'fast'"),
        (["trainer.max_steps=2.5"], "trainer.max_steps expects an integer, got '2.5'"),
        (["trainer.progress=maybe"], "trainer.progress expects a boolean (true/false), got 'maybe'"),
        (["data.theta_range_deg=10"], "data.theta_range_deg expects a list, got '10'"),
        (["+seed=3"], "'seed' already exists: drop the '+' to change it"),
        (["seed=0,1"], "'seed=0,1' is a sweep: add -m"),
        (["trainer.lr=[1"], "cannot parse override"),
        (
            ["experiment=latent_symmetry", "transform.fields={rotation:1,scaling:0.5}"],
            "'transform.fields' is a mapping that cannot take new keys this way; add each with +transform.fields.<name>=<value>",
        ),
    ],
)
def test_bad_overrides_give_one_line(overrides, message):
    with pytest.raises(UserError) as info:
        check_overrides(overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_sweep_values_are_checked_too():
    check_overrides(["seed=0,1,2", "trainer.lr=0.01,0.1"], multirun=True)
    with pytest.raises(UserError, match=r"trainer.lr expects a number, got 'x'"):
        check_overrides(["trainer.lr=0.01,x"], multirun=True)
    with pytest.raises(UserError, match="unknown experiment 'nope'"):
        check_overrides(["experiment=so2_discovery,nope"], multirun=True)
    # A continuous sweep cannot be enumerated; it must not upset the checks of the others.
    check_overrides(["trainer.lr=interval(0.01,0.1)", "seed=0,1"], multirun=True)
    with pytest.raises(UserError, match="unknown experiment 'nope'"):
        check_overrides(["trainer.lr=interval(0.01,0.1)", "experiment=so2_discovery,nope"], multirun=True)


def test_valid_overrides_pass():
    check_overrides(
        ["experiment=so2_discovery", "seed=3", "trainer.lr=1", "device=cpu", "+extra.key=1", "logger=wandb"]
    )


def test_missing_launcher_plugin_names_the_extra():
    exc = MissingConfigException("missing", "hydra/launcher/joblib", ["basic"])
    assert explain(exc) == "the 'joblib' launcher needs a Hydra plugin: pip install 'lconv_cli[joblib]'"
    exc = MissingConfigException("missing", "hydra/launcher/submitit_slurm", ["basic"])
    assert "pip install 'lconv_cli[slurm]'" in explain(exc)


@pytest.mark.parametrize(
    "old, new, ok",
    [
        (1, 2, True),
        (1, 2.5, False),
        (1, True, False),
        (0.1, 3, True),
        (0.1, "a", False),
        (True, False, True),
        (True, 1, False),
        ("x", 3, True),
        (None, "a", True),
        (1, None, True),
        ([1], [2, 3], True),
        ([1], 1, False),
        ({"a": 1}, 1, False),
    ],
)
def test_type_mismatch(old, new, ok):
    assert (type_mismatch(old, new) is None) == ok
