"""Every experiment composes at every scale and checkpoints by default; the registry agrees with the config tree."""

from importlib import resources

import pytest
from omegaconf import OmegaConf

from lconv_cli.runner.cli import experiment_names
from lconv_cli.runner.registry import REGISTRY, get_experiment

EXPERIMENTS = experiment_names()
SCALES = ["smoke", "quick", "paper"]


def test_registry_matches_experiment_configs():
    get_experiment(EXPERIMENTS[0])  # imports the bundled experiments
    assert sorted(REGISTRY) == EXPERIMENTS
    assert "so2_discovery" in EXPERIMENTS


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("scale", SCALES)
def test_experiment_composes_at_every_scale(compose_cfg, experiment, scale):
    cfg = compose_cfg([f"experiment={experiment}", f"scale={scale}"])
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert container["task"] == experiment
    assert container["description"]
    assert callable(get_experiment(experiment))


def test_default_experiment_is_so2_discovery(compose_cfg):
    cfg = compose_cfg([])
    assert cfg.task == "so2_discovery"


def test_scales_change_sizes(compose_cfg):
    smoke, quick, paper = (compose_cfg([f"scale={s}"]) for s in SCALES)
    assert smoke.trainer.max_steps < quick.trainer.max_steps <= paper.trainer.max_steps
    assert smoke.data.num_train < quick.data.num_train < paper.data.num_train
    assert (paper.data.num_train, paper.data.num_test) == (50000, 10000)


def test_hydra_settings(compose_cfg):
    cfg = compose_cfg([], return_hydra_config=True)
    assert cfg.hydra.job.chdir is False
    assert cfg.hydra.job.name == "run"
    assert cfg.hydra.run.dir == cfg.paths.output_dir
    assert cfg.paths.output_dir.startswith("outputs/so2_discovery/")
    assert cfg.hydra.sweep.dir.startswith("outputs/multirun/")
    assert OmegaConf.to_container(cfg.hydra.sweep)["subdir"] == "${hydra.job.num}"


def test_launcher_configs_exist():
    names = {p.name for p in resources.files("lconv_cli.conf").joinpath("launcher").iterdir()}
    assert {"local.yaml", "joblib.yaml", "slurm.yaml", "submitit_local.yaml"} <= names


def test_every_training_experiment_checkpoints_by_default(compose_cfg):
    for experiment in ("so2_discovery", "translation_1d", "algebra_discovery", "latent_symmetry", "image_classification",
                       "lieconv_rotmnist", "lieconv_qm9", "lieconv_springs"):
        for scale in ("smoke", "quick", "paper"):
            trainer = compose_cfg([f"experiment={experiment}", f"scale={scale}"]).trainer
            assert trainer.checkpoint_every != 0 and trainer.checkpoint_seconds > 0, (experiment, scale)
