"""The ``lconv`` command.

    lconv run [EXPERIMENT] [OVERRIDES...] [HYDRA FLAGS]   one run, or a sweep with -m
    lconv list [GROUP]                                    experiments, or a config group's options

Exit codes: 0 success; 1 a run failed or diverged; 2 bad usage or config; 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

USAGE = """usage: lconv run [EXPERIMENT] [KEY=VALUE ...] [-m] [--cfg job] [-p PKG] [--info] [--help]
       lconv list [GROUP]
       lconv --version

  lconv run                                   the default experiment (so2_discovery)
  lconv run so2_discovery seed=3              a named experiment with overrides
  lconv run -m experiment=so2_discovery seed=0,1,2      a sweep, one job per seed
  lconv run resume=outputs/so2_discovery/<time>         continue an interrupted run
  lconv list                                  the experiments; `lconv list model` a group's options

Exit codes: 0 success, 1 a run failed or diverged, 2 bad usage or config, 130 interrupted."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Hydra's flags; those in FLAGS_WITH_VALUE take the next token as their value.
FLAGS = {"-m", "--multirun", "-r", "--run", "--resolve", "-h", "--help", "--hydra-help", "--version", "-i", "--info"}
FLAGS_WITH_VALUE = {
    "-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name",
    "-cd", "--config-dir", "-sc", "--shell-completion", "--experimental-rerun",
}
# Hydra runs in exactly one mode; it rejects two of these with a traceback, so check first.
MODE_FLAGS = {"-r": "--run", "--run": "--run", "-m": "-m", "--multirun": "-m", "-c": "--cfg", "--cfg": "--cfg",
              "-i": "--info", "--info": "--info", "-sc": "-sc", "--shell-completion": "-sc"}
INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}
# Flags after which Hydra only prints something: no run, so no validation.
INFORMATIONAL = {"-h", "--help", "--hydra-help", "--version", "-i", "--info", "-sc", "--shell-completion"}


def _fail(message: str) -> int:
    print(f"lconv: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def split_flags(args: list[str]) -> tuple[list[str], list[str]]:
    """Separate Hydra flags (with their values) from overrides, keeping each list's order.

    Hydra 1.3 rejects flags placed after overrides; moving them to the front makes
    ``lconv run a=1 -m b=1,2`` work like ``lconv run -m a=1 b=1,2``.
    """
    flags, overrides = [], []
    i = 0
    while i < len(args):
        token = args[i]
        name = token.split("=", 1)[0] if token.startswith("--") else token
        if name in FLAGS_WITH_VALUE and "=" not in token and i + 1 < len(args):
            flags += [token, args[i + 1]]
            i += 2
            continue
        if name in FLAGS_WITH_VALUE or name in FLAGS:
            flags.append(token)
            if name in ("-i", "--info") and i + 1 < len(args) and args[i + 1] in INFO_TOPICS:
                flags.append(args[i + 1])
                i += 1
        elif token.startswith("-") and "=" not in token:
            raise ValueError(f"unknown option {token!r} (see `lconv run --help`)")
        else:
            overrides.append(token)
        i += 1
    return flags, overrides


def experiment_names() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in resources.files("lconv_cli.conf").joinpath("experiment").iterdir()
                  if p.name.endswith(".yaml"))


def experiment_description(name: str) -> str:
    from omegaconf import OmegaConf

    text = resources.files("lconv_cli.conf").joinpath("experiment", f"{name}.yaml").read_text()
    return str(OmegaConf.create(text).get("description", ""))


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def resume_overrides(overrides: list[str]) -> list[str]:
    """With ``resume=DIR``: the overrides DIR was run with, then the user's, then its output dir.

    So ``lconv run resume=DIR`` continues the same configuration, in the same directory.
    """
    resume = [o for o in overrides if o.startswith("resume=")]
    if not resume:
        return overrides
    run_dir = Path(resume[-1].split("=", 1)[1].strip("'\""))
    saved_file = run_dir / ".hydra" / "overrides.yaml"
    if not saved_file.is_file():
        raise FileNotFoundError(f"resume: {run_dir} is not a run directory (no .hydra/overrides.yaml)")
    from omegaconf import OmegaConf

    skip = ("resume=", "paths.output_dir=", "hydra.run.dir=")
    saved = [str(o) for o in OmegaConf.load(saved_file) if not str(o).startswith(skip)]
    user = [o for o in overrides if not o.startswith("resume=")]
    absolute = str(run_dir.resolve())
    return saved + user + [f"resume={_quote(absolute)}", f"paths.output_dir={_quote(absolute)}"]


def _exit_code(multirun: bool) -> int:
    from lconv_cli import app, sweep

    if multirun and sweep.LAST_SUMMARY is not None:
        return EXIT_OK if all(row["status"] == "ok" for row in sweep.LAST_SUMMARY) else EXIT_FAILED
    if not app.OUTCOMES:
        return EXIT_OK  # --cfg, --help, ...: nothing ran
    last = app.OUTCOMES[-1]
    if last.status == "ok":
        return EXIT_OK
    return EXIT_USAGE if last.user_error else EXIT_FAILED


def run_command(args: list[str]) -> int:
    try:
        flags, overrides = split_flags(args)
    except ValueError as exc:
        return _fail(str(exc))
    names = experiment_names()
    if overrides and "=" not in overrides[0]:
        name = overrides[0]
        if name not in names:
            return _fail(f"unknown experiment '{name}'; choose one of: {', '.join(names)}")
        overrides[0] = f"experiment={name}"
    try:
        overrides = resume_overrides(overrides)
    except FileNotFoundError as exc:
        return _fail(str(exc))
    modes = sorted({MODE_FLAGS[f.split("=")[0]] for f in flags if f.split("=")[0] in MODE_FLAGS})
    if len(modes) > 1:
        return _fail(f"{' and '.join(modes)} cannot be combined: use one of -m, --run, --cfg, --info, -sc at a time")
    multirun = any(f in ("-m", "--multirun") for f in flags)
    if multirun and any(o.startswith("resume=") for o in overrides):
        return _fail("resume continues one run; drop -m")
    if not any(f.split("=")[0] in INFORMATIONAL for f in flags):
        from lconv_cli.errors import UserError
        from lconv_cli.validate import check_overrides

        try:
            check_overrides(overrides, multirun)
        except UserError as exc:
            return _fail(str(exc))

    from hydra.core.global_hydra import GlobalHydra

    from lconv_cli import app, sweep

    app.OUTCOMES.clear()
    sweep.LAST_SUMMARY = None
    GlobalHydra.instance().clear()
    saved_argv = sys.argv
    sys.argv = [saved_argv[0], *flags, *overrides]
    try:
        app.hydra_entry()
    except SystemExit as exc:
        if exc.code not in (0, None):
            return EXIT_FAILED if app.OUTCOMES else EXIT_USAGE
    except KeyboardInterrupt:
        print("lconv: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        sys.argv = saved_argv
    return _exit_code(multirun)


def list_command(args: list[str]) -> int:
    from rich.table import Table

    from lconv_cli.console import stdout_console
    from lconv_cli.validate import config_loader, list_groups

    if not args or args[0] in ("experiment", "experiments"):
        table = Table(title="experiments (lconv run <name>)", header_style="bold")
        table.add_column("name")
        table.add_column("description")
        for name in experiment_names():
            table.add_row(name, experiment_description(name))
        stdout_console.print(table)
        return EXIT_OK
    with config_loader() as loader:
        groups = list_groups(loader)
        group = args[0]
        if group not in groups:
            return _fail(f"unknown config group '{group}'; groups: {', '.join(groups)}")
        for option in sorted(loader.get_group_options(group)):
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
    if command == "list":
        return list_command(rest)
    return _fail(f"unknown command '{command}'; use `lconv run` or `lconv list` (see `lconv --help`)")


if __name__ == "__main__":
    sys.exit(main())
