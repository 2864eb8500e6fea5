"""The command line in-process: flag splitting, and a programming error's traceback kept in the run log."""

from tests.helpers import SMOKE, read_json


def test_programming_error_keeps_traceback_in_run_log(tmp_path, monkeypatch, capfd):
    from lconv_cli.runner import registry
    from lconv_cli.runner.cli import main

    registry.get_experiment("so2_discovery")

    def broken(cfg):
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(registry.REGISTRY, "so2_discovery", broken)
    code = main(["run", *SMOKE, f"paths.output_dir={tmp_path / 'run'}"])
    err = capfd.readouterr().err
    assert code == 1
    assert "ZeroDivisionError: a bug" in err and "Traceback" not in err
    log_text = (tmp_path / "run" / "run.log").read_text()
    assert "Traceback" in log_text and "raise ZeroDivisionError" in log_text
    record = read_json(tmp_path / "run" / "metrics.json")
    assert record["status"] == "failed" and record["error"] == "ZeroDivisionError: a bug"


def test_split_flags_moves_hydra_flags_to_the_front():
    from lconv_cli.runner.cli import split_flags

    args = ["a=1", "-m", "b=1,2", "--cfg", "job", "-p", "trainer", "--info", "searchpath", "c=3", "--resolve"]
    assert split_flags(args) == (
        ["-m", "--cfg", "job", "-p", "trainer", "--info", "searchpath", "--resolve"],
        ["a=1", "b=1,2", "c=3"],
    )
    assert split_flags(["--cfg=job", "x=1"]) == (["--cfg=job"], ["x=1"])
