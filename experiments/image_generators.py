"""image_generators: the generators of transformations of real images, in the pixel space a classifier sees.

Data (``conf/data/pixel_pairs.yaml``): pairs (f, T f) of the first ``data.num_pairs`` training images
of ``dataset=`` (MNIST by default) and their transformed versions, T moving every transformation of
``data.transforms`` (tx, ty, rotation, scale) at once by its own known parameter, uniform in
±``data.max_step`` (:mod:`lconv_cli.data.pixel_pairs`); T is the exact SW action
(``data.resample=sw``) or ``bilinear`` / ``bicubic`` resampling. ``data.scrambled=true`` applies the
scrambled variants' pixel permutation of data seed ``data.seed``, the one image_classification uses
with the same seed, so the generators found act in the classifier's pixel order. Held-out pairs come
from the test split (``data.test_pairs``).

Model (``model=pixel_fit``): the generators in closed form by least squares on the Cayley relation
(:func:`lconv_cli.lie.fitting.fit_generators`): unconstrained, antisymmetric, or ``auto`` (each
generator antisymmetric when its unconstrained fit is, as for isometries; antisymmetry also fills
in the columns of pixels the images never light).

Metrics: ``cos_<name>`` = |cos| of each generator to the true (permuted) SW generator;
``subspace_similarity`` of the span; ``symmetric_share_<name>`` and ``antisymmetric_<name>``
(the form chosen); ``test_residual`` = ‖exp(Σ t L) f − g‖ / ‖g − f‖ on held-out pairs and
``truth_test_residual`` (the same for the true generators: 0 for SW pairs, the resampling's own
misfit otherwise); ``pairs_seconds``, ``fit_seconds``. Record: ``generators.pt`` (a generators file
for ``generators=<run dir>`` of image_classification) and a figure of the generators acting on a test image.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from omegaconf import DictConfig

from lconv_cli.data.generators_file import FILE_NAME, save_generators
from lconv_cli.data.image_variants import load_image_dataset, variant_permutation
from lconv_cli.data.pixel_pairs import (
    RESAMPLINGS,
    TRANSFORMS,
    PixelPairs,
    exp_action,
    make_pixel_pairs,
    true_generators,
)
from lconv_cli.errors import UserError
from lconv_cli.lie import generator_cos, subspace_similarity
from lconv_cli.lie.fitting import FORMS, fit_generators
from lconv_cli.reporting.figures import save_figure
from lconv_cli.runner.configuring import choose
from lconv_cli.runner.registry import register
from lconv_cli.runner.schema import NON_NEGATIVE_INT, POSITIVE_INT, Number
from lconv_cli.train.seeding import seeded_rngs

log = logging.getLogger(__name__)

RULES = (  # the model.* keys have shared rules (lconv_cli/runner/schema.py)
    ("data.num_pairs", POSITIVE_INT),
    ("data.test_pairs", POSITIVE_INT),
    ("data.max_step", Number(low=0, low_open=True, high=0.2)),
    ("data.base_shift", NON_NEGATIVE_INT),
)


def transform_names(cfg: DictConfig) -> list[str]:
    """``data.transforms`` checked: known names, no repeats, at least one."""
    names = [str(name) for name in (cfg.data.transforms or [])]
    if not names:
        raise UserError(f"data.transforms must name at least one of {', '.join(TRANSFORMS)}")
    for name in names:
        choose(name, TRANSFORMS, "data.transforms")
    if len(set(names)) != len(names):
        raise UserError(f"data.transforms names a transformation twice: {names}")
    return names


def load_pairs(cfg: DictConfig, names: list[str], rngs: dict[str, torch.Generator]):
    """(train pairs, test pairs, permutation or None, image side n) from the dataset's official splits."""
    resampling = choose(cfg.data.resample, RESAMPLINGS, "data.resample")
    root, name = cfg.data.root, cfg.dataset.name
    download, verify = bool(cfg.data.download), bool(cfg.data.verify)
    train_images, _ = load_image_dataset(name, root, train=True, download=download, verify=verify)
    test_images, _ = load_image_dataset(name, root, train=False, download=download, verify=verify)
    side = train_images.shape[-1]
    if train_images.shape[-2] != side:
        raise UserError(f"image_generators needs square images; {name} has {tuple(train_images.shape[-2:])}")
    permutation = variant_permutation(int(cfg.data.seed), side * side) if cfg.data.scrambled else None
    step, shift = float(cfg.data.max_step), int(cfg.data.base_shift)
    train = make_pixel_pairs(
        train_images[: int(cfg.data.num_pairs)], names, step, resampling, rngs["train"], permutation, shift
    )
    test = make_pixel_pairs(
        test_images[: int(cfg.data.test_pairs)], names, step, resampling, rngs["test"], permutation, shift
    )
    return train, test, permutation, side


def relative_residual(generators: torch.Tensor, pairs: PixelPairs) -> float:
    """‖exp(Σ_k t_k L_k) f − g‖ / ‖g − f‖ over the pairs (0: exact; 1: no better than the identity)."""
    moved = exp_action(generators.to(torch.float64), pairs.t, pairs.f)
    return float((moved - pairs.g).norm() / (pairs.g - pairs.f).norm())


def plot_actions(found: torch.Tensor, truth: torch.Tensor, image: torch.Tensor, names, permutation, side: int):
    """Row k: the discovered and the true generator k applied to one test image, shown unscrambled."""
    order = torch.argsort(permutation) if permutation is not None else torch.arange(side * side)
    fig, axes = plt.subplots(len(names), 3, figsize=(6.0, 2.0 * len(names)), squeeze=False)
    for row, (name, mine, true) in enumerate(zip(names, found, truth)):
        reference = true @ image
        scale = max(float(reference.abs().max()), 1e-12)
        pictures = [image, mine @ image, reference]
        titles = ["image", f"discovered {name}", f"true {name}"]
        for column, (ax, picture, title) in enumerate(zip(axes[row], pictures, titles)):
            shown = picture[order].reshape(side, side).numpy()
            if column == 0:
                ax.imshow(shown, cmap="gray")
            else:  # one symmetric colour scale for both actions
                ax.imshow(shown, cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.suptitle("generators acting on a test image (pixels unscrambled for display)", fontsize=10)
    fig.tight_layout()
    return fig


@register("image_generators", rules=RULES)
def run(cfg: DictConfig) -> dict[str, float]:
    out_dir = Path(cfg.paths.output_dir)
    rngs = seeded_rngs(int(cfg.seed), "train", "test")
    if cfg.model.get("name") != "pixel_fit":
        raise UserError(f"model={cfg.model.get('name')}: image_generators takes model=pixel_fit")
    names = transform_names(cfg)
    form = choose(cfg.model.form, FORMS, "model.form")

    # 1. data
    started = time.perf_counter()
    train, test, permutation, side = load_pairs(cfg, names, rngs)
    pairs_seconds = time.perf_counter() - started
    truth = true_generators(names, side, permutation)
    log.info(
        "%s: %d train / %d test %s pairs moving %s by up to %g (%s pixel order), in %.1f s",
        cfg.dataset.name,
        len(train),
        len(test),
        cfg.data.resample,
        ", ".join(names),
        float(cfg.data.max_step),
        "scrambled" if permutation is not None else "natural",
        pairs_seconds,
    )

    # 2–3. model and fit
    started = time.perf_counter()
    fit = fit_generators(
        train.f,
        train.t,
        train.g,
        form=form,
        share_threshold=float(cfg.model.share_threshold),
        max_iter=int(cfg.model.max_iter),
    )
    fit_seconds = time.perf_counter() - started
    found = fit.generators
    if form == "auto" and all(math.isnan(share) for share in fit.symmetric_shares):
        log.warning(
            "%d pairs are fewer than the %d unknowns of a row: every generator fitted antisymmetric",
            len(train),
            len(names) * side * side,
        )

    # 4. evaluation
    metrics: dict[str, float] = {}
    for name, mine, true, antisymmetric, share in zip(names, found, truth, fit.antisymmetric, fit.symmetric_shares):
        metrics[f"cos_{name}"] = generator_cos(mine, true)
        metrics[f"antisymmetric_{name}"] = float(antisymmetric)
        metrics[f"symmetric_share_{name}"] = share
        log.info(
            "%s: |cos| %.5f (%s fit)", name, metrics[f"cos_{name}"], "antisymmetric" if antisymmetric else "general"
        )
    metrics["subspace_similarity"] = subspace_similarity(found, truth)
    metrics["test_residual"] = relative_residual(found, test)
    metrics["truth_test_residual"] = relative_residual(truth, test)
    metrics.update(num_pairs=len(train), pairs_seconds=pairs_seconds, fit_seconds=fit_seconds)

    # 5. report
    source = {"task": cfg.task, "model": cfg.model.name, "run_dir": str(out_dir), "metrics": metrics}
    save_generators(out_dir / FILE_NAME, found, [side, side], names, source)
    save_figure(plot_actions(found, truth, test.f[0], names, permutation, side), out_dir, "generator_actions")
    return metrics
