"""The value schema: the valid range of every numeric config value, declared once, checked before any work.

Each rule names a config key (``fnmatch`` patterns: ``model.per_group.lr.*``) and what it takes.
The first rule that matches a key applies: the shared ``RULES`` here, then the rules the experiment
(``cfg.task``) declares with ``register(name, rules=...)`` for keys of its own (looked up, importing
the experiment, only for numeric values of keys no shared rule covers); a key without any rule is not
checked. :func:`validate_config` checks a composed config and is called by the CLI before Hydra starts
(every job of a sweep included) and by the runner before a run starts; a refused value is one line,
exit code 2. A test composes every experiment with every model and checks that each numeric key has
a rule and that it refuses a bad value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from lconv_cli.errors import UserError


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_numeric(value: Any) -> bool:
    """A number, or a non-empty list of numbers."""
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(_is_number(v) for v in items)


@dataclass(frozen=True)
class Number:
    """A number (an integer if ``integer``) in the interval from ``low`` to ``high`` (either end open or
    absent); ``null`` if ``nullable``; or one of the strings in ``words`` (e.g. ``auto``)."""

    integer: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False
    words: tuple[str, ...] = ()

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low == 0 and self.low_open and self.high is None:
            text = "a positive integer" if self.integer else "a positive number"
        elif self.low is not None and self.high is not None:
            text = (
                f"{kind} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
            )
        elif self.low is not None:
            text = f"{kind} {'>' if self.low_open else '≥'} {self.low:g}"
        elif self.high is not None:
            text = f"{kind} {'<' if self.high_open else '≤'} {self.high:g}"
        else:
            text = kind
        extras = [*(repr(w) for w in self.words), *(["null"] if self.nullable else [])]
        return f"{text} (or {', '.join(extras)})" if extras else text

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if isinstance(value, str):
            return value in self.words
        if not _is_number(value) or not math.isfinite(value):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def invalid_example(self) -> Any:
        """A value this rule refuses (for tests)."""
        if self.low is not None:
            return self.low if self.low_open else (self.low - 1 if self.integer else self.low - 0.5)
        if self.high is not None:
            return self.high if self.high_open else self.high + 1
        return "not-a-number"


@dataclass(frozen=True)
class Numbers:
    """A list of numbers each accepted by ``item`` (a single number too if ``scalar``), of ``length``
    items if given, in non-decreasing order if ``ordered`` (a range [low, high])."""

    item: Number
    length: int | None = None
    ordered: bool = False
    scalar: bool = False

    def describe(self) -> str:
        shape = f"a list of {self.length}" if self.length else "a non-empty list of"
        text = f"{shape} ({self.item.describe()})" + (", low ≤ high" if self.ordered else "")
        return f"{self.item.describe()} or {text}" if self.scalar else text

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, (list, tuple)):
            return self.scalar and self.item.accepts(value)
        if not value or (self.length is not None and len(value) != self.length):
            return False
        if not all(self.item.accepts(v) for v in value):
            return False
        return not self.ordered or all(a <= b for a, b in itertools.pairwise(value))

    def invalid_example(self) -> Any:
        if self.ordered:
            low = self.item.low if self.item.low is not None else 0.0
            return [low + 1.0, low + 0.5]
        return [self.item.invalid_example()]


Rule = Number | Numbers

ANY = Number()
POSITIVE = Number(low=0, low_open=True)
NON_NEGATIVE = Number(low=0)
POSITIVE_INT = Number(integer=True, low=0, low_open=True)
NON_NEGATIVE_INT = Number(integer=True, low=0)
FRACTION = Number(low=0, high=1)
OPTIONAL_POSITIVE = Number(low=0, low_open=True, nullable=True)
OPTIONAL_POSITIVE_INT = Number(integer=True, low=0, low_open=True, nullable=True)
WIDTHS = Numbers(POSITIVE_INT, scalar=True)
RANGE = Numbers(ANY, length=2, ordered=True)

RULES: tuple[tuple[str, Rule], ...] = (
    # run
    ("seed", NON_NEGATIVE_INT),
    ("num_threads", Number(integer=True, low=0, low_open=True, nullable=True, words=("auto",))),
    ("logger.wandb.init_timeout", POSITIVE),
    # trainer
    ("trainer.lr", OPTIONAL_POSITIVE),
    ("trainer.weight_decay", NON_NEGATIVE),
    ("trainer.warmup_fraction", Number(low=0, high=1, high_open=True)),
    ("trainer.lr_step_every", POSITIVE_INT),
    ("trainer.lr_gamma", POSITIVE),
    ("trainer.min_steps", NON_NEGATIVE_INT),
    ("trainer.batch_size", POSITIVE_INT),
    ("trainer.epochs", POSITIVE_INT),
    ("trainer.max_steps", OPTIONAL_POSITIVE_INT),
    ("trainer.log_every", OPTIONAL_POSITIVE_INT),
    ("trainer.checkpoint_every", Number(integer=True, low=0, nullable=True)),
    ("trainer.checkpoint_seconds", NON_NEGATIVE),
    ("evaluation.long_systems", NON_NEGATIVE_INT),
    ("evaluation.batch_size", POSITIVE_INT),
    # data
    ("data.n", Number(integer=True, low=2)),
    ("data.d", Number(integer=True, low=2)),
    ("data.num_train", POSITIVE_INT),
    ("data.num_test", POSITIVE_INT),
    ("data.num_valid", NON_NEGATIVE_INT),
    ("data.theta_range_deg", Numbers(Number(low=-180, high=180), length=2, ordered=True)),
    ("data.shift_range", RANGE),
    ("data.eval_shift", ANY),
    ("data.seed", NON_NEGATIVE_INT),
    ("data.split_seed", NON_NEGATIVE_INT),
    ("data.val_fraction", Number(low=0, high=1, high_open=True)),
    ("data.val_size", NON_NEGATIVE_INT),
    ("data.pool", POSITIVE_INT),
    ("data.train_subset", OPTIONAL_POSITIVE_INT),
    ("data.valid_subset", OPTIONAL_POSITIVE_INT),
    ("data.test_subset", OPTIONAL_POSITIVE_INT),
    ("data.shift_std", NON_NEGATIVE),
    ("data.num_bodies", Number(integer=True, low=2)),
    ("data.num_times", Number(integer=True, low=2)),
    ("data.t_end", POSITIVE),
    ("data.chunk_steps", POSITIVE_INT),
    ("data.long_steps", POSITIVE_INT),
    ("dataset.num_classes", Number(integer=True, low=2)),
    ("variant.max_angle_deg", Number(low=0, high=180)),
    ("transform.range", RANGE),
    ("transform.fields.*", ANY),
    # models
    ("model.lr", OPTIONAL_POSITIVE),
    ("model.per_group.lr.*", POSITIVE),
    ("model.alpha", OPTIONAL_POSITIVE),
    ("model.per_group.alpha.*", POSITIVE),
    ("model.liftsamples", POSITIVE_INT),  # the group's own unless set: never null
    ("model.per_group.liftsamples.*", POSITIVE_INT),
    ("model.nbhd", POSITIVE_INT),
    ("model.per_group.nbhd.*", POSITIVE_INT),
    ("model.fill", Number(low=0, low_open=True, high=1)),
    ("model.per_group.fill.*", Number(low=0, low_open=True, high=1)),
    ("model.total_ds", Number(low=0, low_open=True, high=1)),
    ("model.k", POSITIVE_INT),
    ("model.num_layers", POSITIVE_INT),
    ("model.hidden", WIDTHS),
    ("model.channels", WIDTHS),
    ("model.kernel_size", WIDTHS),
    ("model.encoder_widths", Numbers(POSITIVE_INT)),
    ("model.t_widths", Numbers(POSITIVE_INT)),
    ("model.pixel_multiple", OPTIONAL_POSITIVE_INT),
    ("model.num_generators", OPTIONAL_POSITIVE_INT),
    ("model.rank", OPTIONAL_POSITIVE_INT),
    ("model.num_features", POSITIVE_INT),
    ("model.rec", POSITIVE_INT),
    ("model.recursion_steps", POSITIVE_INT),
    ("model.taylor_order", Number(integer=True, low=0, words=("auto",))),
    ("model.taylor_warmup", FRACTION),
    ("model.taylor_warmup_order", POSITIVE_INT),
    ("model.init_scale", POSITIVE),
    ("model.curriculum", FRACTION),
    ("model.patch", POSITIVE_INT),
    ("model.alpha_init", POSITIVE),
    ("model.alpha_lr", POSITIVE),
    ("model.weights.*", NON_NEGATIVE),
    ("model.polish_iters", NON_NEGATIVE_INT),
    ("model.polish_pairs", NON_NEGATIVE_INT),
    ("model.pairs_per_unknown", POSITIVE_INT),
    ("model.invariance_tol", POSITIVE),
    ("model.min_gap", Number(low=1, low_open=True, nullable=True)),
    ("model.fitted_closure_weight", NON_NEGATIVE),
    ("model.field_degree", Number(integer=True, low=1, high=4)),
    ("model.density_degree", Number(integer=True, low=2, high=8)),
    ("model.ridge", NON_NEGATIVE),
    ("model.coef_std", POSITIVE),
    ("model.share_threshold", FRACTION),
    ("model.max_iter", NON_NEGATIVE_INT),
    ("model.flow_steps", POSITIVE_INT),
    ("model.disc_width", POSITIVE_INT),
    ("model.orthogonality", NON_NEGATIVE),
)


def rule_for(key: str, experiment: str | None = None) -> Rule | None:
    """The first rule whose pattern matches the dotted ``key``: a shared one (``RULES``), else one that
    ``experiment`` declares (importing it; see ``lconv_cli.runner.registry``), else None."""
    for pattern, rule in RULES:
        if fnmatchcase(key, pattern):
            return rule
    if experiment is None:
        return None
    from lconv_cli.runner.registry import declared_rules

    for pattern, rule in declared_rules(experiment):
        if fnmatchcase(key, pattern):
            return rule
    return None


def check_value(key: str, value: Any, experiment: str | None = None) -> None:
    """UserError (one line) if the rule for ``key`` refuses ``value``; keys without a rule pass.

    The rules ``experiment`` declares are looked up for numeric values only (a number or a list of
    numbers, what :func:`numeric_keys` counts), so checking other values never imports an experiment.
    """
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    rule = rule_for(key, experiment if _is_numeric(value) else None)
    if rule is not None and not rule.accepts(value):
        raise UserError(f"{key} must be {rule.describe()}; got {value!r}")


def leaves(cfg: DictConfig, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every leaf of ``cfg`` outside ``hydra``; lists of scalars count as one leaf."""
    for key in cfg:
        path = f"{prefix}.{key}" if prefix else str(key)
        if path == "hydra":
            continue
        node = cfg._get_node(key)
        if isinstance(node, DictConfig):
            yield from leaves(node, path)
        else:
            yield path, OmegaConf.to_container(node, resolve=True) if isinstance(node, ListConfig) else cfg[key]


def experiment_of(cfg: DictConfig) -> str | None:
    """The experiment a config runs (its ``task``), or None where it names none."""
    task = OmegaConf.select(cfg, "task", default=None, throw_on_missing=False)
    return task if isinstance(task, str) else None


def validate_config(cfg: DictConfig) -> None:
    """Check every value of a composed config that has a rule (shared, or declared by the experiment
    ``cfg.task``); raise UserError for the first refused."""
    experiment = experiment_of(cfg)
    derived = []  # values the config picks from others (model.lr: ${...per_group.lr...}): checked last, so an
    for key, value in leaves(cfg):  # error names the key that was set, not one that follows it
        parent, _, name = key.rpartition(".")
        if OmegaConf.is_interpolation(OmegaConf.select(cfg, parent) if parent else cfg, name):
            derived.append((key, value))
        else:
            check_value(key, value, experiment)
    for key, value in derived:
        check_value(key, value, experiment)
    check_precision(cfg, experiment)


def check_precision(cfg: DictConfig, experiment: str | None) -> None:
    """``trainer.precision`` is one of ``lconv_cli.train.precision.PRECISIONS``, and bf16-mixed only for
    an experiment registered with ``mixed_precision=True``."""
    from lconv_cli.runner.registry import MIXED_PRECISION, import_bundled, supports_mixed_precision
    from lconv_cli.train.precision import precision_name

    value = OmegaConf.select(cfg, "trainer.precision", default=None)
    if value is None or precision_name(value) == "32" or experiment is None:
        return
    if not supports_mixed_precision(experiment):
        import_bundled()
        supported = ", ".join(sorted(MIXED_PRECISION)) or "none"
        raise UserError(
            f"trainer.precision={value} is not supported by {experiment} (it trains in 32); supported by: {supported}"
        )


def numeric_keys(cfg: DictConfig) -> list[str]:
    """Keys of ``cfg`` whose value is a number or a list of numbers (what the schema must cover)."""
    return [key for key, value in leaves(cfg) if _is_numeric(value)]
