"""Paper figures composed from finished run directories (used by the Makefile's ``fig-*`` targets).

    python -m lconv_cli.reporting.paper_figures so2 --run recursive=DIR --run fixed=DIR --run lstsq=DIR --out figures/so2_figure4
    python -m lconv_cli.reporting.paper_figures images --runs SWEEP_DIR [--runs DIR ...] --out figures/images_table
    python -m lconv_cli.reporting.paper_figures efficiency --runs SWEEP_DIR [--runs DIR ...] --out figures/sample_efficiency
    python -m lconv_cli.reporting.paper_figures latent --run rotation=DIR --run sct_x=DIR ... --out figures/latent_flows
    python -m lconv_cli.reporting.paper_figures springs --run T2=DIR --run fc=DIR ... [--sizes SWEEP_DIR] --out figures/springs

``so2`` rebuilds the L-conv paper's Figure 4: the reference rotation generator L_SW, then the
generator each so2_discovery run learned (read from its ``generators.pt`` and ``metrics.json``),
each scaled to best match L_SW and titled with its |cos| to L_SW and to the data's own generator,
then G_cd, the central-difference generator of the bilinear rotation when the runs used
bilinear data. Every run must have used the same grid size and conventions.

``images`` writes the image classification table (markdown, CSV) and bar chart from every
image_classification run under the given directories (:mod:`lconv_cli.reporting.image_table`).

``efficiency`` writes test accuracy against training-set size (markdown, CSV, a log-x figure) from
image_classification runs, with the margins of discovered-generator L-conv
(:mod:`lconv_cli.reporting.efficiency_table`).

``latent`` rebuilds the neural symmetry detection paper's Figures 2–3 from latent_symmetry runs:
learned and true fields, latent flows, and t histograms (:mod:`lconv_cli.reporting.latent_figures`).

``springs`` rebuilds the LieConv paper's Figures 6–8 and a metrics table from lieconv_springs runs:
trajectories, momentum drift, rollout and energy errors, and (``--sizes``) test MSE against the
number of training systems (:mod:`lconv_cli.reporting.springs_figures`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from omegaconf import OmegaConf

from lconv_cli.data.generators_file import load_generators
from lconv_cli.errors import UserError
from lconv_cli.lie import central_difference_generator, rotation_generator_2d
from lconv_cli.reporting.figures import save_paper_figure, scaled_to_match, show_matrix


def _run_record(run_dir: Path) -> tuple[torch.Tensor, dict, dict]:
    """(learned (d, d) generator, metrics, resolved config) of one finished so2_discovery run."""
    for name in ("metrics.json", "config.yaml"):
        if not (run_dir / name).is_file():
            raise UserError(f"{run_dir} has no {name}; is it a finished lconv run directory?")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if metrics.get("experiment") != "so2_discovery" or metrics.get("status") != "ok":
        raise UserError(f"{run_dir} is not a finished so2_discovery run")
    config = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))
    return load_generators(run_dir, count=1)["generators"][0].double(), metrics["metrics"], config


def so2_figure(runs: dict[str, Path], out: Path) -> list[Path]:
    """Write ``out``.pdf and ``out``.png: L_SW | each run's learned L | G_cd (bilinear data)."""
    records = {label: _run_record(Path(path)) for label, path in runs.items()}
    settings = {(c["data"]["n"], c["data"]["conventions"], c["data"]["rotation"]) for _, _, c in records.values()}
    if len(settings) != 1:
        raise UserError(f"the runs differ in (n, conventions, rotation): {sorted(settings)}")
    n, conventions, rotation = settings.pop()
    sw = rotation_generator_2d(int(n), conventions)
    panels = [(f"L_SW ({conventions} grid), {n}×{n}", sw)]
    for label, (learned, metrics, config) in records.items():
        model = config["model"]["name"]
        name = label if label == model else f"{label} ({model})"
        title = f"{name}\n|cos| L_SW {metrics['generator_cos_sw']:.2f}, data {metrics['generator_cos_data']:.2f}"
        panels.append((title, scaled_to_match(learned, sw)))
    if rotation == "bilinear":
        panels.append(("G_cd: the bilinear data's generator", central_difference_generator(int(n))))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.6))
    for ax, (title, mat) in zip(axes, panels):
        show_matrix(ax, mat, title, fontsize=8)
    summary = {
        label: {key: metrics[key] for key in ("generator_cos_sw", "generator_cos_data", "fit_residual")}
        for label, (_, metrics, _) in records.items()
    }
    return save_paper_figure(fig, out, summary)


def _label_and_dir(text: str) -> tuple[str, Path]:
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=RUN_DIR, got {text!r}")
    return label, Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lconv_cli.reporting.paper_figures", description=__doc__.split("\n\n")[0]
    )
    figures = parser.add_subparsers(dest="figure", required=True)
    so2 = figures.add_parser("so2", help="L-conv Figure 4 from so2_discovery runs")
    so2.add_argument("--run", type=_label_and_dir, action="append", required=True, help="LABEL=RUN_DIR, in panel order")
    images = figures.add_parser("images", help="image classification table and bar chart")
    images.add_argument(
        "--runs", type=Path, action="append", required=True, help="a sweep or run directory (repeatable)"
    )
    efficiency = figures.add_parser("efficiency", help="test accuracy against training-set size, table and figure")
    efficiency.add_argument(
        "--runs", type=Path, action="append", required=True, help="a sweep or run directory (repeatable)"
    )
    latent = figures.add_parser("latent", help="latent flows and t histograms from latent_symmetry runs")
    latent.add_argument(
        "--run", type=_label_and_dir, action="append", required=True, help="LABEL=RUN_DIR, in column order"
    )
    lieconv = figures.add_parser(
        "lieconv", help="LieConv RotMNIST / QM9 tables from lieconv_rotmnist and lieconv_qm9 runs"
    )
    lieconv.add_argument(
        "--runs", type=Path, action="append", required=True, help="a sweep or run directory (repeatable)"
    )
    springs = figures.add_parser("springs", help="LieConv Figs. 6-8 and a table from lieconv_springs runs")
    springs.add_argument(
        "--run", type=_label_and_dir, action="append", required=True, help="LABEL=RUN_DIR, in legend order"
    )
    springs.add_argument(
        "--sizes", type=Path, action="append", help="a sweep directory over data.num_train (repeatable)"
    )
    for sub in (so2, images, efficiency, latent, lieconv, springs):
        sub.add_argument("--out", type=Path, required=True, help="output path without suffix")
    args = parser.parse_args(argv)
    try:
        if args.figure == "so2":
            paths = so2_figure(dict(args.run), args.out)
        elif args.figure == "latent":
            from lconv_cli.reporting.latent_figures import latent_figure

            paths = latent_figure(dict(args.run), args.out)
        elif args.figure == "springs":
            from lconv_cli.reporting.springs_figures import springs_figures

            paths = springs_figures(dict(args.run), args.out, args.sizes)
        elif args.figure == "efficiency":
            from lconv_cli.reporting.efficiency_table import write_efficiency_table

            paths = write_efficiency_table(args.runs, args.out)
        elif args.figure == "lieconv":
            from lconv_cli.reporting.lieconv_table import write_lieconv_table

            paths = write_lieconv_table(args.runs, args.out)
        else:
            from lconv_cli.reporting.image_table import write_image_table

            paths = write_image_table(args.runs, args.out)
        for path in paths:
            print(path)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
