"""The ``lconv`` command.

    lconv run [EXPERIMENT] [OVERRIDES...] [HYDRA FLAGS]   one run, or a sweep with -m
    lconv rerun RUN_DIR                                   the recorded config of a run, in a new directory
    lconv list [GROUP]                                    experiments, or a config group's options

Exit codes: 0 success; 1 a run failed or diverged; 2 bad usage or config; 130 interrupted.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lconv_cli.runner.app import Outcome

USAGE = """usage: lconv run [EXPERIMENT] [KEY=VALUE ...] [-m] [--cfg job] [-p PKG] [--info] [--help]
       lconv rerun RUN_DIR
       lconv list [GROUP]
       lconv --version

  lconv run                                   the default experiment (so2_discovery)
  lconv run so2_discovery seed=3              a named experiment with overrides
  lconv run -m experiment=so2_discovery seed=0,1,2      a sweep, one job per seed
  lconv run resume=outputs/so2_discovery/<time>         continue an interrupted or killed run
  lconv rerun outputs/so2_discovery/<time>              run a record's config.yaml again, in a new directory
  lconv list                                  the experiments; `lconv list model` a group's options

Exit codes: 0 success, 1 a run failed or diverged, 2 bad usage or config, 130 interrupted."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Hydra runs in exactly one mode (its argparse dests); it rejects two with a traceback, so check first.
# The values are the names the error message uses.
MODE_NAMES = {"run": "--run", "multirun": "-m", "cfg": "--cfg", "info": "--info", "shell_completion": "-sc"}
# Flags after which Hydra only prints something: no run, so no validation.
PRINT_ONLY = {"help", "hydra_help", "version", "info", "shell_completion"}


@dataclass(frozen=True)
class HydraFlags:
    """Hydra's command-line flags, read from the argument parser ``@hydra.main`` uses (so they cannot drift).

    Attributes:
        dest: option string (``-m``, ``--multirun``) → its argparse dest (``multirun``).
        with_value: option strings that take the next token as their value (``--cfg job``).
        optional_value: option string → the values it may take from the next token (``--info searchpath``).
    """

    dest: dict[str, str]
    with_value: frozenset[str]
    optional_value: dict[str, frozenset[str]]

    @classmethod
    def from_hydra(cls) -> HydraFlags:
        from hydra._internal.utils import get_args_parser

        dest, with_value, optional_value = {}, set(), {}
        for action in get_args_parser()._actions:
            for option in action.option_strings:
                dest[option] = action.dest
                if action.nargs is None:
                    with_value.add(option)
                elif action.nargs == "?":
                    optional_value[option] = frozenset(action.choices or ())
        return cls(dest, frozenset(with_value), optional_value)

    def dests(self, flags: list[str]) -> set[str]:
        """The dests of the option strings among ``flags`` (values and ``--flag=value`` handled)."""
        return {self.dest[name] for name in (f.split("=", 1)[0] for f in flags) if name in self.dest}


def _fail(message: str) -> int:
    print(f"lconv: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def split_flags(args: list[str]) -> tuple[list[str], list[str]]:
    """Separate Hydra flags (with their values) from overrides, keeping each list's order.

    Hydra 1.3 rejects flags placed after overrides; moving them to the front makes
    ``lconv run a=1 -m b=1,2`` work like ``lconv run -m a=1 b=1,2``.
    """
    hydra_flags = HydraFlags.from_hydra()
    flags, overrides = [], []
    i = 0
    while i < len(args):
        token = args[i]
        name = token.split("=", 1)[0] if token.startswith("--") else token
        following = args[i + 1] if i + 1 < len(args) else None
        if name in hydra_flags.with_value and "=" not in token and following is not None:
            flags += [token, following]
            i += 2
            continue
        if name in hydra_flags.dest:
            flags.append(token)
            if following is not None and following in hydra_flags.optional_value.get(name, ()):
                flags.append(following)
                i += 1
        elif token.startswith("-") and "=" not in token:
            raise ValueError(f"unknown option {token!r} (see `lconv run --help`)")
        else:
            overrides.append(token)
        i += 1
    return flags, overrides


def experiment_names() -> list[str]:
    """The experiments that have a config: bundled, then those of plugins (``lconv_cli.runner.plugins``)."""
    from lconv_cli.runner.plugins import experiment_configs

    return list(experiment_configs())


def experiment_description(name: str) -> str:
    """The one-line ``description`` of experiment ``name``'s config."""
    from lconv_cli.runner.plugins import experiment_configs

    return experiment_configs()[name].description


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# Overrides that may differ on resume: they change where results are shown, never what is computed.
# device and num_threads are not among them: CPU, CUDA and thread counts round differently.
RESUME_SAFE_KEYS = ("logger", "trainer.progress", "tags", "hydra.verbose", "hydra.job_logging", "hydra.hydra_logging")


def _is_safe_on_resume(key: str) -> bool:
    return any(key == safe or key.startswith(f"{safe}.") for safe in RESUME_SAFE_KEYS)


def changed_on_resume(run_dir: Path, saved: list[str], user: list[str]) -> list[str]:
    """The keys of ``user`` overrides that would change what the run in ``run_dir`` computes: not in
    RESUME_SAFE_KEYS and not equal to the recorded choice (``.hydra/hydra.yaml``) or value (``config.yaml``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import DictConfig, ListConfig, OmegaConf

    from lconv_cli.runner.record import CONFIG_FILE

    hydra_file, config_file = run_dir / ".hydra" / "hydra.yaml", run_dir / CONFIG_FILE
    choices = dict(OmegaConf.load(hydra_file).hydra.runtime.choices) if hydra_file.is_file() else {}
    recorded = OmegaConf.load(config_file) if config_file.is_file() else OmegaConf.create()
    changed = []
    for override in OverridesParser.create().parse_overrides(user):
        key = override.key_or_group
        if _is_safe_on_resume(key) or override.input_line in saved:
            continue
        value = override.value()
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value)
        if key in choices:
            same = str(value) == str(choices[key])
        else:
            old = OmegaConf.select(recorded, key, default=KeyError, throw_on_resolution_failure=False)
            old = OmegaConf.to_container(old) if isinstance(old, (DictConfig, ListConfig)) else old
            same = old is not KeyError and old == value  # 1 == 1.0: an int may restate a float
        if not same:
            changed.append(key)
    return changed


def resume_overrides(overrides: list[str]) -> list[str]:
    """With ``resume=DIR``: the overrides DIR was run with, then its output dir.

    So ``lconv run resume=DIR`` continues the same configuration, in the same directory. Other
    overrides are refused (UserError) unless they leave the computation as recorded (RESUME_SAFE_KEYS,
    or the recorded value); a run directory without a checkpoint is refused too.
    """
    resume = [o for o in overrides if o.startswith("resume=")]
    if not resume:
        return overrides
    from omegaconf import OmegaConf

    from lconv_cli.errors import UserError
    from lconv_cli.runner.record import CHECKPOINT_FILE

    run_dir = Path(resume[-1].split("=", 1)[1].strip("'\""))
    saved_file = run_dir / ".hydra" / "overrides.yaml"
    if not saved_file.is_file():
        raise UserError(f"resume: {run_dir} is not a run directory (no .hydra/overrides.yaml)")
    if not (run_dir / CHECKPOINT_FILE).is_file():
        raise UserError(
            f"resume: no checkpoint in {run_dir}: the run stopped before its first checkpoint was written; "
            f"start it again (a new run directory)"
        )
    skip = ("resume=", "paths.output_dir=", "hydra.run.dir=", "num_threads=")
    saved = [str(o) for o in OmegaConf.load(saved_file) if not str(o).startswith(skip)]
    user = [o for o in overrides if not o.startswith("resume=")]
    changed = changed_on_resume(run_dir, saved, user)
    if changed:
        raise UserError(
            f"resume continues {run_dir} as it was configured; refusing overrides that change what it computes: "
            f"{', '.join(changed)} (only {', '.join(RESUME_SAFE_KEYS)} may differ; start a new run instead)"
        )
    absolute = str(run_dir.resolve())
    pinned = _recorded_threads(run_dir) if not _has_override(user, "num_threads") else []
    return saved + user + pinned + [f"resume={_quote(absolute)}", f"paths.output_dir={_quote(absolute)}"]


def _recorded_threads(run_dir: Path) -> list[str]:
    """``num_threads=<the count the run used>``: a resumed run continues on as many threads (CPU
    results can differ in the last digits between thread counts)."""
    from omegaconf import OmegaConf

    from lconv_cli.runner.record import CONFIG_FILE

    config_file = run_dir / CONFIG_FILE
    threads = OmegaConf.load(config_file).get("num_threads") if config_file.is_file() else None
    return [f"num_threads={int(threads)}"] if isinstance(threads, int) else []


def _exit_code(outcomes: list[Outcome], sweep_dir: Path | None) -> int:
    """The exit code of what Hydra ran: from the sweep's ``summary.json`` when it wrote one, else from
    the outcome of the last job run in this process (``outcomes``, filled by ``app.hydra_app``)."""
    from lconv_cli.runner.sweep import read_summary

    rows = read_summary(sweep_dir) if sweep_dir is not None else None
    if rows is not None:
        return EXIT_OK if all(row["status"] == "ok" for row in rows) else EXIT_FAILED
    if not outcomes:
        return EXIT_OK  # --cfg, --help, ...: nothing ran
    last = outcomes[-1]
    if last.status == "ok":
        return EXIT_OK
    return EXIT_USAGE if last.user_error else EXIT_FAILED


def _has_override(overrides: list[str], *keys: str) -> bool:
    return any(o.lstrip("+~").split("=", 1)[0] in keys for o in overrides)


def place_record(overrides: list[str], composed, multirun: bool) -> tuple[list[str], Path | None]:
    """Give the run (or sweep) a directory of its own before Hydra starts (see ``lconv_cli.runner.rundir``).

    Returns the overrides, with ``hydra.run.dir`` / ``hydra.sweep.dir`` set to a freshly claimed
    directory when the user named none, and the sweep directory (None for a single run).
    Raises UserError for a directory that cannot be written or (named by the user) already holds a record.
    """
    from lconv_cli.runner import rundir

    if multirun:
        sweep_dir = Path(str(composed.hydra.sweep.dir))
        if _has_override(overrides, "hydra.sweep.dir"):
            return overrides, rundir.claim_named(sweep_dir, "hydra.sweep.dir", rundir.refuse_existing_sweep)
        sweep_dir = rundir.claim(sweep_dir, "paths.log_dir (or hydra.sweep.dir)")
        return [*overrides, f"hydra.sweep.dir={_quote(str(sweep_dir))}"], sweep_dir
    run_dir = Path(str(composed.hydra.run.dir))
    if _has_override(overrides, "resume"):
        return overrides, None
    if _has_override(overrides, "paths.output_dir", "hydra.run.dir"):
        rundir.claim_named(run_dir, "paths.output_dir", rundir.refuse_existing_run)
        return overrides, None
    run_dir = rundir.claim(run_dir, "paths.log_dir (or paths.output_dir)")
    return [*overrides, f"hydra.run.dir={_quote(str(run_dir))}"], None


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a scheduler's stop, ``kill``) is handled like Ctrl-C: records and summaries get written."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(args: list[str]) -> int:
    """``lconv run``: check the command line, claim the record's directory, run Hydra; the exit code."""
    from lconv_cli.errors import UserError
    from lconv_cli.runner.plugins import with_plugin_searchpath

    try:
        flags, overrides = split_flags(args)
    except ValueError as exc:
        return _fail(str(exc))
    names = experiment_names()
    if overrides and "=" not in overrides[0]:
        name = overrides[0]
        if name not in names:
            return _fail(_unknown_experiment(name, names))
        overrides[0] = f"experiment={name}"
    dests = HydraFlags.from_hydra().dests(flags)
    modes = sorted(MODE_NAMES[dest] for dest in dests if dest in MODE_NAMES)
    if len(modes) > 1:
        return _fail(f"{' and '.join(modes)} cannot be combined: use one of -m, --run, --cfg, --info, -sc at a time")
    multirun = "multirun" in dests
    if multirun and any(o.startswith("resume=") for o in overrides):
        return _fail("resume continues one run; drop -m")
    sweep_dir = None
    try:
        if not dests & PRINT_ONLY:
            overrides, sweep_dir = _prepare_run(overrides, multirun, runs="cfg" not in dests)
        else:
            overrides = with_plugin_searchpath(overrides)
    except UserError as exc:
        return _fail(str(exc))
    return _run_hydra(flags, overrides, multirun, sweep_dir)


def _unknown_experiment(name: str, names: list[str]) -> str:
    """The error for an unknown experiment name, naming the plugins whose configs could not be read."""
    from lconv_cli.runner.plugins import readable_plugin_sources

    problems = readable_plugin_sources()[1]
    return "; ".join([f"unknown experiment '{name}'; choose one of: {', '.join(names)}", *problems])


def _prepare_run(overrides: list[str], multirun: bool, runs: bool) -> tuple[list[str], Path | None]:
    """Check the overrides before Hydra starts and, when something ``runs`` (not ``--cfg``), load the
    experiment's plugin and claim the record's directory. Returns the overrides to give Hydra and the
    sweep directory (None for a single run). Raises UserError."""
    from lconv_cli.runner.plugins import BUNDLED, with_plugin_searchpath
    from lconv_cli.runner.registry import load
    from lconv_cli.runner.schema import experiment_of
    from lconv_cli.runner.validate import check_overrides

    overrides = with_plugin_searchpath(resume_overrides(overrides))
    composed = check_overrides(overrides, multirun)
    if not runs:
        return overrides, None
    experiment = experiment_of(composed)
    if experiment is not None and experiment not in BUNDLED.experiments():
        load(experiment)  # a broken plugin is one line here, before any directory is made
    return place_record(overrides, composed, multirun)


def _run_hydra(flags: list[str], overrides: list[str], multirun: bool, sweep_dir: Path | None) -> int:
    """Run Hydra on ``flags`` and ``overrides`` (as its command line) and return the exit code."""
    from hydra.core.global_hydra import GlobalHydra

    from lconv_cli.runner import sweep
    from lconv_cli.runner.app import hydra_app

    outcomes: list[Outcome] = []
    GlobalHydra.instance().clear()
    saved_argv = sys.argv
    sys.argv = [saved_argv[0], *flags, *overrides]
    try:
        with _sigterm_as_interrupt():
            hydra_app(outcomes.append)()
    except SystemExit as exc:
        if exc.code not in (0, None):
            return EXIT_FAILED if outcomes else EXIT_USAGE
    except KeyboardInterrupt:
        print("lconv: interrupted", file=sys.stderr)
        if multirun and sweep_dir is not None and sweep_dir.is_dir():
            sweep.summarize_interrupted(sweep_dir)
        return EXIT_INTERRUPTED
    finally:
        sys.argv = saved_argv
    return _exit_code(outcomes, sweep_dir if multirun else None)


def rerun_command(args: list[str]) -> int:
    """``lconv rerun RUN_DIR``: run RUN_DIR/config.yaml, exactly as recorded, in a new run directory."""
    from lconv_cli.errors import UserError
    from lconv_cli.runner.rerun import RERUN_CONFIG_NAME, rerun_config_dir

    if len(args) != 1 or args[0].startswith("-"):
        return _fail("usage: lconv rerun RUN_DIR (a run directory holding config.yaml)")
    try:
        config_dir, _run_dir = rerun_config_dir(Path(args[0]))
    except UserError as exc:
        return _fail(str(exc))
    flags = ["--config-dir", str(config_dir), "--config-name", RERUN_CONFIG_NAME]
    try:
        return _run_hydra(flags, [], False, None)
    finally:
        import shutil

        shutil.rmtree(config_dir, ignore_errors=True)


def list_command(args: list[str]) -> int:
    """``lconv list``: the experiments (bundled and from plugins); ``lconv list GROUP``: a group's options."""
    from lconv_cli.runner.plugins import with_plugin_searchpath

    if not args or args[0] in ("experiment", "experiments"):
        return _list_experiments()
    return _list_group(args[0], with_plugin_searchpath([]))


def _list_experiments() -> int:
    """The experiments table; a ``from`` column names each one's distribution when plugins add some."""
    from rich.table import Table

    from lconv_cli.runner.console import stdout_console
    from lconv_cli.runner.plugins import BUNDLED_ORIGIN, experiment_configs, readable_plugin_sources

    configs = experiment_configs().values()
    show_origin = any(config.origin != BUNDLED_ORIGIN for config in configs)
    table = Table(title="experiments (lconv run <name>)", header_style="bold")
    table.add_column("name")
    table.add_column("description")
    if show_origin:
        table.add_column("from")
    for config in configs:
        table.add_row(config.name, config.description, *([config.origin] if show_origin else []))
    stdout_console.print(table)
    for problem in readable_plugin_sources()[1]:
        print(f"lconv: warning: {problem}", file=sys.stderr)
    return EXIT_OK


def _list_group(group: str, searchpath: list[str]) -> int:
    """The options of config ``group`` (plugin configs included), one a line."""
    from lconv_cli.runner.validate import CONFIG_NAME, config_loader, list_groups

    with config_loader() as loader:
        groups = list_groups(loader, overrides=searchpath)
        if group not in groups:
            return _fail(f"unknown config group '{group}'; groups: {', '.join(groups)}")
        for option in sorted(loader.get_group_options(group, config_name=CONFIG_NAME, overrides=searchpath)):
            print(option)
    return EXIT_OK


def completion_query(args: list[str]) -> int:
    """Bash calls ``lconv -sc query=bash`` with COMP_LINE="lconv run ..."; answer as Hydra would for ``run``."""
    line = os.environ.get("COMP_LINE", "")
    words = line.split(" ")
    if len(words) > 1 and words[1] == "run":
        os.environ["COMP_LINE"] = " ".join(words[:1] + words[2:])
        point = int(os.environ.get("COMP_POINT", len(line)))
        os.environ["COMP_POINT"] = str(max(0, point - len(" run")))
    return run_command(args)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return EXIT_OK if args else EXIT_USAGE
    command, rest = args[0], args[1:]
    if command == "--version":
        import lconv_cli

        print(f"lconv {lconv_cli.__version__}")
        return EXIT_OK
    if command in ("-sc", "--shell-completion"):
        return completion_query(args)
    if command == "run":
        return run_command(rest)
    if command == "rerun":
        return rerun_command(rest)
    if command == "list":
        return list_command(rest)
    return _fail(f"unknown command '{command}'; use `lconv run`, `lconv rerun` or `lconv list` (see `lconv --help`)")


if __name__ == "__main__":
    sys.exit(main())
