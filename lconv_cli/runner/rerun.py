"""``lconv rerun RUN_DIR``: run a record's ``config.yaml`` again, exactly as recorded, in a new directory.

The recorded config holds every value that ran (derived ones resolved), so it is all a rerun needs:
no overrides, no defaults list, no lconv version's presets. It becomes the primary config of a
Hydra run (written to a temporary config directory, with the runner's Hydra settings) whose record
goes to a newly claimed ``<paths.log_dir>/<task>/<time>``. Same seed, same machine: same metrics.
"""

from __future__ import annotations

import tempfile
import time
from importlib import resources
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from lconv_cli.errors import UserError
from lconv_cli.runner import rundir
from lconv_cli.runner.record import CONFIG_FILE

RERUN_CONFIG_NAME = "rerun"


def hydra_settings(run_dir: Path) -> DictConfig:
    """The runner's Hydra settings (the ``hydra`` node of the bundled conf/config.yaml), recording a
    single run in ``run_dir``."""
    settings = OmegaConf.create(resources.files("lconv_cli.conf").joinpath("config.yaml").read_text()).hydra
    settings.run.dir = str(run_dir)
    return settings


def rerun_config_dir(source: Path) -> tuple[Path, Path]:
    """A temporary config directory holding ``rerun.yaml`` (the recorded config of the run in
    ``source``) and the newly claimed run directory it records into.

    Raises:
        UserError: ``source`` holds no readable config.yaml, or the new directory cannot be made.
    """
    config_file = Path(source) / CONFIG_FILE
    if not config_file.is_file():
        raise UserError(f"rerun: {source} holds no {CONFIG_FILE} (not a run directory)")
    try:
        recorded = OmegaConf.load(config_file)
        task, log_dir = str(recorded.task), str(recorded.paths.log_dir)
    except Exception as exc:  # a damaged or foreign file
        raise UserError(f"rerun: {config_file} is not an lconv run config ({type(exc).__name__}: {exc})") from None
    target = rundir.claim(Path(log_dir) / task / time.strftime("%Y-%m-%d_%H-%M-%S"), "paths.log_dir")
    with open_dict(recorded):
        recorded.paths.output_dir = str(target)
        recorded.resume = None
    primary = OmegaConf.create({"defaults": [{"override hydra/job_logging": "lconv"}, "_self_"]})
    primary = OmegaConf.merge(primary, recorded, {"hydra": hydra_settings(target)})
    config_dir = Path(tempfile.mkdtemp(prefix="lconv-rerun-"))
    (config_dir / f"{RERUN_CONFIG_NAME}.yaml").write_text(OmegaConf.to_yaml(primary))
    return config_dir, target
