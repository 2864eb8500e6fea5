"""Every experiment composes at every scale and checkpoints by default; the registry agrees with the config tree."""

from importlib import resources

import pytest
from omegaconf import OmegaConf

from lconv_cli.runner.cli import experiment_names
from lconv_cli.runner.registry import REGISTRY, get_experiment, import_bundled

EXPERIMENTS = experiment_names()
SCALES = ["smoke", "quick", "paper"]


def test_registry_matches_experiment_configs():
    import_bundled()  # every module of lconv_cli.experiments registers itself
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
    for experiment in (
        "so2_discovery",
        "translation_1d",
        "algebra_discovery",
        "latent_symmetry",
        "image_classification",
        "lieconv_rotmnist",
        "lieconv_qm9",
        "lieconv_springs",
    ):
        for scale in ("smoke", "quick", "paper"):
            trainer = compose_cfg([f"experiment={experiment}", f"scale={scale}"]).trainer
            assert trainer.checkpoint_every != 0 and trainer.checkpoint_seconds > 0, (experiment, scale)


# Where values come from (issue 18): no comment-only files, no model_scale layer, per-group values
# picked in the config, optional experiment scale files, and a misspelt scale still refused.

CONF = resources.files("lconv_cli.conf")
MODELS = sorted(p.name[:-5] for p in CONF.joinpath("model").iterdir() if p.name.endswith(".yaml"))


def _yaml_files(folder=CONF, prefix=""):
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _yaml_files(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".yaml"):
            yield f"{prefix}{entry.name}", entry


def test_no_config_file_holds_only_comments():
    empty = [
        name
        for name, entry in _yaml_files()
        if not any(line.strip() and not line.lstrip().startswith("#") for line in entry.read_text().splitlines())
    ]
    assert not empty, f"comment-only config files (conf/__init__.py registers choices that set nothing): {empty}"


def test_there_is_no_model_scale_layer(compose_cfg):
    assert not CONF.joinpath("model_scale").is_dir()
    cfg = compose_cfg(["experiment=lieconv_springs", "scale=smoke"], return_hydra_config=True)
    assert not any(group.startswith("model_scale") for group in cfg.hydra.runtime.choices)


def test_experiment_scale_files_name_an_experiment_a_scale_and_a_model(compose_cfg):
    """The scale entries are optional, so a misnamed file would be silently ignored: every file must be
    experiment_scale/<experiment>/<scale>.yaml or .../<scale>/<model>.yaml, and be used."""
    folder = CONF.joinpath("experiment_scale")
    for experiment_dir in folder.iterdir():
        if experiment_dir.name.startswith(("_", ".")):
            continue
        experiment = experiment_dir.name
        assert experiment in EXPERIMENTS, f"experiment_scale/{experiment}: no such experiment"
        for entry in experiment_dir.iterdir():
            scale = entry.name[:-5] if entry.name.endswith(".yaml") else entry.name
            assert scale in SCALES, f"experiment_scale/{experiment}/{entry.name}: no such scale"
            if not entry.is_dir():
                continue
            assert experiment_dir.joinpath(f"{scale}.yaml").is_file(), f"{experiment}/{scale}/ needs {scale}.yaml"
            for model_file in entry.iterdir():
                model = model_file.name[:-5]
                assert model in MODELS, f"experiment_scale/{experiment}/{scale}/{model_file.name}: no such model"
                overrides = [f"experiment={experiment}", f"scale={scale}", f"model={model}"]
                cfg = compose_cfg(overrides, return_hydra_config=True)
                assert cfg.hydra.runtime.choices.get(f"experiment_scale/{experiment}/{scale}") == model


def test_a_missing_experiment_scale_file_means_the_experiment_defaults(compose_cfg):
    assert not CONF.joinpath("experiment_scale", "algebra_discovery", "quick.yaml").is_file()
    quick = compose_cfg(["experiment=algebra_discovery", "scale=quick"])
    assert quick == compose_cfg(["experiment=algebra_discovery"])
    assert quick.trainer.max_steps == 5000 and quick.data.num_train == 512


def test_model_scale_values_apply_to_their_model_only(compose_cfg):
    springs = {
        m: compose_cfg(["experiment=lieconv_springs", "scale=smoke", f"model={m}"]).model
        for m in ("hlieresnet", "fc", "ogn")
    }
    hlieresnet = springs["hlieresnet"]
    assert (hlieresnet.k, hlieresnet.num_layers) == (16, 1) and "hidden" not in hlieresnet
    assert list(springs["fc"].hidden) == [16] and springs["fc"].lr == 0.01 and "k" not in springs["fc"]
    assert (springs["ogn"].hidden, springs["ogn"].num_layers) == (16, 2)
    fc_paper = compose_cfg(["experiment=lieconv_springs", "scale=paper", "model=fc"])
    assert list(fc_paper.model.hidden) == [256, 256, 256] and fc_paper.trainer.lr == 0.01
    assert list(compose_cfg(["experiment=image_classification", "model=fc"]).model.hidden) == [237]
    recursive = compose_cfg(["experiment=so2_discovery", "scale=paper", "model=recursive_angle"]).trainer
    assert (recursive.max_steps, recursive.lr_step_every, recursive.lr) == (31250, 3125, 0.001)
    generator_t = compose_cfg(["experiment=so2_discovery", "scale=paper", "model=generator_t"]).trainer
    assert (generator_t.max_steps, generator_t.lr) == (2000, 0.03)


# (experiment, the node holding the per_group table, key, value when the group has no entry)
PER_GROUP = [
    ("lieconv_rotmnist", "model", "alpha", None),
    ("lieconv_rotmnist", "model", "liftsamples", 1),
    ("lieconv_qm9", "model", "nbhd", 100),
    ("lieconv_qm9", "model", "fill", 1.0),
    ("lieconv_qm9", "model", "liftsamples", 1),
    ("lieconv_qm9", "data", "recenter", False),
    ("lieconv_springs", "model", "lr", None),
]
GROUPS = {
    "lieconv_rotmnist": ["T2", "SO2", "RxSO2", "SE2", "Trivial"],
    "lieconv_qm9": ["T3", "SO3", "SE3", "Trivial"],
    "lieconv_springs": ["T2", "SO2", "Trivial"],
}


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("experiment", sorted(GROUPS))
def test_per_group_values_resolve_in_the_config(compose_cfg, experiment, scale):
    for group in GROUPS[experiment]:
        cfg = compose_cfg([f"experiment={experiment}", f"group={group}", f"scale={scale}"])
        resolved = OmegaConf.to_container(cfg, resolve=True)
        for exp, node, key, default in PER_GROUP:
            if exp != experiment:
                continue
            table = resolved[node]["per_group"].get(key, {})
            assert resolved[node][key] == table.get(group, default), (experiment, group, f"{node}.{key}")
        if experiment == "lieconv_springs":
            assert resolved["trainer"]["lr"] == resolved["model"]["lr"] is not None


def test_per_group_values_are_the_official_ones(compose_cfg):
    se2 = compose_cfg(["experiment=lieconv_rotmnist", "group=SE2"]).model
    assert (se2.alpha, se2.liftsamples) == (0.05, 2)
    so3 = compose_cfg(["experiment=lieconv_qm9", "group=SO3"])
    assert (so3.model.nbhd, so3.model.fill, so3.model.liftsamples, so3.data.recenter) == (25, 0.5, 4, True)
    assert compose_cfg(["experiment=lieconv_springs", "group=SO2", "scale=paper"]).trainer.lr == 0.0003
    assert compose_cfg(["experiment=lieconv_springs", "group=SO2", "scale=quick"]).trainer.lr == 0.001  # quick's own


@pytest.mark.parametrize(
    "overrides, key, value",
    [
        (["experiment=lieconv_springs", "group=SO2", "trainer.lr=0.005"], "trainer.lr", 0.005),
        (["experiment=lieconv_springs", "group=SO2", "trainer.lr=0.005"], "model.lr", 0.001),
        (["experiment=lieconv_springs", "group=SO2", "model.lr=0.002"], "trainer.lr", 0.002),
        (["experiment=lieconv_springs", "group=SO2", "model.per_group.lr.SO2=0.004"], "trainer.lr", 0.004),
        (["experiment=lieconv_springs", "model=ogn", "model.lr=0.02"], "trainer.lr", 0.02),
        (["experiment=lieconv_springs", "group=SO2", "model.alpha=0.7"], "model.alpha", 0.7),
        (["experiment=lieconv_rotmnist", "group=SE2", "model.alpha=0.7"], "model.alpha", 0.7),
        (["experiment=lieconv_rotmnist", "group=SE2", "model.liftsamples=3"], "model.liftsamples", 3),
        (["experiment=lieconv_qm9", "group=SO3", "model.nbhd=7"], "model.nbhd", 7),
        (["experiment=lieconv_qm9", "group=SO3", "data.recenter=false"], "data.recenter", False),
        (["experiment=lieconv_qm9", "group=T3", "data.recenter=true"], "data.recenter", True),
    ],
)
def test_user_overrides_win_over_per_group_values(compose_cfg, overrides, key, value):
    cfg = compose_cfg(overrides)
    assert OmegaConf.select(cfg, key) == value


def test_choices_that_set_nothing_need_no_file(compose_cfg):
    assert not CONF.joinpath("scale", "quick.yaml").is_file()
    assert not CONF.joinpath("conventions", "centred.yaml").is_file()
    default = compose_cfg([])
    assert compose_cfg(["scale=quick", "conventions=centred"]) == default
    assert compose_cfg(["scale=paper"]).data.num_train == 50000


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["scale=papr"], "unknown scale 'papr'; choose one of: paper, quick, smoke"),
        (["experiment=lieconv_springs", "scale=quik"], "unknown scale 'quik'; choose one of: paper, quick, smoke"),
        (["conventions=paperr"], "unknown conventions 'paperr'; choose one of: centred, paper"),
    ],
)
def test_a_misspelt_choice_is_a_one_line_error(overrides, message):
    from lconv_cli.errors import UserError
    from lconv_cli.runner.validate import check_overrides

    with pytest.raises(UserError) as info:
        check_overrides(overrides)
    assert str(info.value) == message
