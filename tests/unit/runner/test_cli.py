"""The command line in-process: flag splitting, exit codes, and a programming error's traceback kept in the run log."""

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


def test_split_flags_knows_every_flag_of_hydras_parser():
    from hydra._internal.utils import get_args_parser

    from lconv_cli.runner.cli import split_flags

    for action in get_args_parser()._actions:
        for option in action.option_strings:
            flag = [option, "value"] if action.nargs is None else [option]
            assert split_flags(["seed=1", *flag, "a=2"]) == (flag, ["seed=1", "a=2"]), option


def test_exit_code_comes_from_the_sweep_summary_else_the_last_outcome(tmp_path):
    from lconv_cli.runner.app import Outcome
    from lconv_cli.runner.cli import _exit_code
    from lconv_cli.runner.sweep import write_summary

    row = {"job": "0", "overrides": [], "status": "ok", "seed": 0, "wall_seconds": 1.0, "metrics": {}, "error": None}
    assert _exit_code([Outcome("failed", False)], tmp_path) == 1  # no summary written: the outcome decides
    write_summary(tmp_path, [row])
    assert _exit_code([], tmp_path) == 0
    write_summary(tmp_path, [row, {**row, "job": "1", "status": "diverged"}])
    assert _exit_code([Outcome("ok", False)], tmp_path) == 1
    assert _exit_code([], None) == 0
    assert _exit_code([Outcome("failed", True)], None) == 2
    assert _exit_code([Outcome("diverged", False)], None) == 1
