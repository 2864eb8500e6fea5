"""The `lconv` command through a subprocess: listing, config printing, flags, errors, completion."""

import yaml

from tests.helpers import lconv


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_list_shows_experiments_with_descriptions(tmp_path):
    proc = lconv("list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "so2_discovery" in proc.stdout
    assert "rotation generator" in proc.stdout


def test_list_group_and_unknown_group(tmp_path):
    proc = lconv("list", "scale", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.split() == ["paper", "quick", "smoke"]
    assert_one_line_error(lconv("list", "nope", cwd=tmp_path), "unknown config group 'nope'", "scale")


def test_cfg_job_prints_composed_config_without_running(tmp_path):
    proc = lconv("run", "so2_discovery", "seed=5", "--cfg", "job", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load(proc.stdout)
    assert cfg["task"] == "so2_discovery" and cfg["seed"] == 5
    assert not (tmp_path / "outputs").exists()


def test_flags_work_in_any_position(tmp_path):
    proc = lconv("run", "trainer.lr=0.5", "--cfg", "job", "seed=2", "-p", "trainer", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["lr"] == 0.5
    proc = lconv("run", "seed=1", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "lconv run" in proc.stdout
    proc = lconv("run", "scale=smoke", "--info", "searchpath", cwd=tmp_path)
    assert proc.returncode == 0 and "pkg://lconv_cli.conf" in proc.stdout


def test_unknown_experiment_exits_2_with_valid_names(tmp_path):
    assert_one_line_error(lconv("run", "nope", cwd=tmp_path), "unknown experiment 'nope'", "so2_discovery")
    assert_one_line_error(lconv("run", "experiment=nope", cwd=tmp_path), "unknown experiment 'nope'", "so2_discovery")


def test_bad_overrides_exit_2(tmp_path):
    assert_one_line_error(
        lconv("run", "trainer.lrr=0.1", cwd=tmp_path), "unknown config key 'trainer.lrr'", "trainer.lr"
    )
    assert_one_line_error(lconv("run", "trainer.max_steps=many", cwd=tmp_path), "trainer.max_steps expects an integer")
    assert_one_line_error(lconv("run", "--bogus", cwd=tmp_path), "unknown option '--bogus'")
    assert_one_line_error(lconv("frobnicate", cwd=tmp_path), "unknown command")
    assert_one_line_error(
        lconv("run", "-m", "seed=0,1", "--cfg", "job", cwd=tmp_path), "--cfg and -m cannot be combined"
    )


def test_bash_completion(tmp_path):
    install = lconv("run", "-sc", "install=bash", cwd=tmp_path)
    assert install.returncode == 0
    assert "complete -o nospace -o default -F hydra_bash_completion lconv" in install.stdout
    line = "lconv run experiment="
    query = lconv("-sc", "query=bash", cwd=tmp_path, env={"COMP_LINE": line, "COMP_POINT": str(len(line))})
    assert query.returncode == 0, query.stderr
    assert "experiment=so2_discovery" in query.stdout.split()
    line = "lconv run trainer.l"
    query = lconv("-sc", "query=bash", cwd=tmp_path, env={"COMP_LINE": line, "COMP_POINT": str(len(line))})
    assert "trainer.lr=" in query.stdout.split()


def test_version_and_usage(tmp_path):
    assert lconv("--version", cwd=tmp_path).stdout.startswith("lconv ")
    assert lconv(cwd=tmp_path).returncode == 2
