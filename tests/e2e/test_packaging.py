"""The built wheel ships the config tree and the experiments inside the package."""

import subprocess
import sys
import zipfile

from tests.helpers import REPO


def test_wheel_contains_conf_and_experiments_and_runs_from_it(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("lconv_cli-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "lconv_cli/conf/config.yaml",
        "lconv_cli/conf/__init__.py",
        "lconv_cli/conf/experiment/so2_discovery.yaml",
        "lconv_cli/conf/experiment_scale/so2_discovery/smoke.yaml",
        "lconv_cli/conf/hydra/job_logging/lconv.yaml",
        "lconv_cli/experiments/so2_discovery.py",
        "lconv_cli/lie/shannon_whittaker.py",
    ):
        assert required in names, required
    sources = {path.relative_to(REPO).as_posix() for path in (REPO / "lconv_cli").rglob("*.py")}
    assert not sources - names, f"modules missing from the wheel (setup.cfg packages): {sorted(sources - names)}"
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import lconv_cli; "
        "assert lconv_cli.__file__.startswith(sys.argv[1]), lconv_cli.__file__; "
        "from lconv_cli.runner.cli import main; raise SystemExit(main(['run', 'scale=smoke', '--cfg', 'job']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(site)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "task: so2_discovery" in proc.stdout
