"""A user's points from a file: labelled, inputs x (N, D) and targets y (N, m), or unlabelled samples x (N, D); float64.

Formats, by suffix:

- ``.npz`` and ``.pt`` holding named arrays: ``x_key`` and ``y_key`` name them;
- ``.npy`` and ``.pt`` holding one 2-D array, and ``.csv`` (an optional header row of column
  names): ``y_columns`` picks the target columns (default: the last one) and ``x_columns`` the
  inputs (default: all the others). Columns are given by index or, for a CSV with a header, by name.

Rows with a NaN or an infinity in x or y are dropped, and how many is reported, never used.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lconv_cli.errors import DataMissingError, UserError

SUFFIXES = (".npz", ".npy", ".csv", ".pt")
MIN_ROWS = 10


@dataclass
class LabelledPoints:
    """x (N, D), y (N, m) float64, the finite rows only; ``dropped`` rows had a NaN or an infinity."""

    x: torch.Tensor
    y: torch.Tensor
    dropped: int
    columns: list[str]


def _columns(spec, names: list[str], what: str, path: Path) -> list[int]:
    """Column indices from a list of indices or names (or one of them)."""
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    out = []
    for item in items:
        if isinstance(item, str) and not item.lstrip("-").isdigit():
            if item not in names:
                raise UserError(f"{path}: no column named {item!r} for {what}; columns: {', '.join(names)}")
            out.append(names.index(item))
        else:
            index = int(item)
            if not -len(names) <= index < len(names):
                raise UserError(f"{path}: {what} column {index} does not exist ({len(names)} columns)")
            out.append(index % len(names))
    return out


def _read_table(path: Path) -> tuple[np.ndarray, list[str]]:
    """(rows, columns) float64 and column names from a 2-D array file or a CSV."""
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            rows = [row for row in csv.reader(handle) if row]
        if not rows:
            raise UserError(f"{path}: empty file")
        header = None
        try:
            [float(v) for v in rows[0]]
        except ValueError:
            header, rows = [v.strip() for v in rows[0]], rows[1:]
        try:
            table = np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
        except ValueError as error:
            raise UserError(f"{path}: a value is not a number ({error})") from None
        if table.ndim != 2:
            raise UserError(f"{path}: rows have different numbers of columns")
    else:
        table = _load_array(path, None)
    if table.ndim != 2:
        raise UserError(f"{path}: expected a 2-D array (rows × columns), got shape {tuple(table.shape)}")
    names = header if path.suffix == ".csv" and header else [str(i) for i in range(table.shape[1])]
    if len(names) != table.shape[1]:
        raise UserError(f"{path}: {len(names)} column names for {table.shape[1]} columns")
    return table, names


def _load_array(path: Path, key: str | None) -> np.ndarray:
    """One array: the file's only array, or ``key`` of an .npz / .pt dictionary."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                if key not in archive.files:
                    raise UserError(f"{path}: no array {key!r}; arrays: {', '.join(archive.files)}")
                return np.asarray(archive[key], dtype=np.float64)
        if path.suffix == ".npy":
            return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
        content = torch.load(path, map_location="cpu", weights_only=True)
    except UserError:
        raise
    except Exception as error:
        raise UserError(f"{path} cannot be read: {error}") from None
    if isinstance(content, dict):
        if key is None or key not in content:
            raise UserError(f"{path}: no tensor {key!r}; keys: {', '.join(map(str, content))}")
        content = content[key]
    return torch.as_tensor(content).to(torch.float64).numpy()


def _readable(path: str | Path) -> Path:
    """The path, if it is a file of a known format (DataMissingError / UserError otherwise)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataMissingError(f"data.path={path}: no such file")
    if path.suffix not in SUFFIXES:
        raise UserError(f"data.path={path}: unknown format {path.suffix!r}; use one of {', '.join(SUFFIXES)}")
    return path


def load_labelled_points(
    path: str | Path,
    *,
    x_key: str = "x",
    y_key: str = "y",
    x_columns=None,
    y_columns=None,
) -> LabelledPoints:
    """Read x and y (module docstring); DataMissingError if the file is absent, UserError (one line)
    for anything else wrong with it."""
    path = _readable(path)
    keyed = path.suffix == ".npz" or (path.suffix == ".pt" and isinstance(_peek(path), dict))
    if keyed:
        x, y = _load_array(path, x_key), _load_array(path, y_key)
        names = [f"{x_key}[{i}]" for i in range(x.shape[-1] if x.ndim == 2 else 0)]
    else:
        table, all_names = _read_table(path)
        y_index = _columns(y_columns if y_columns is not None else [-1], all_names, "y", path)
        x_index = (
            _columns(x_columns, all_names, "x", path)
            if x_columns is not None
            else [i for i in range(table.shape[1]) if i not in y_index]
        )
        x, y, names = table[:, x_index], table[:, y_index], [all_names[i] for i in x_index]
    if x.ndim != 2 or x.shape[1] == 0:
        raise UserError(f"{path}: x must be 2-D (rows × coordinates), got shape {tuple(x.shape)}")
    y = y[:, None] if y.ndim == 1 else y
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise UserError(f"{path}: y has shape {tuple(y.shape)}; expected {x.shape[0]} rows like x {tuple(x.shape)}")
    x_t, y_t = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
    finite = torch.isfinite(x_t).all(1) & torch.isfinite(y_t).all(1)
    if int(finite.sum()) < MIN_ROWS:
        raise UserError(f"{path}: {int(finite.sum())} rows without NaN or infinity; at least {MIN_ROWS} are needed")
    return LabelledPoints(x_t[finite], y_t[finite], int((~finite).sum()), names)


def _peek(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise UserError(f"{path} cannot be read: {error}") from None


def load_samples(path: str | Path, *, x_key: str = "x", x_columns=None) -> LabelledPoints:
    """Unlabelled samples x (N, D) from the same formats (``y`` is empty, (N, 0)): the array
    ``x_key`` of an .npz / .pt dictionary, or the ``x_columns`` of a table (default: every column).
    Rows with a NaN or an infinity are dropped and counted."""
    path = _readable(path)
    keyed = path.suffix == ".npz" or (path.suffix == ".pt" and isinstance(_peek(path), dict))
    if keyed:
        x = _load_array(path, x_key)
        names = [f"{x_key}[{i}]" for i in range(x.shape[-1] if x.ndim == 2 else 0)]
    else:
        table, all_names = _read_table(path)
        index = _columns(x_columns, all_names, "x", path) if x_columns is not None else list(range(table.shape[1]))
        x, names = table[:, index], [all_names[i] for i in index]
    if x.ndim != 2 or x.shape[1] == 0:
        raise UserError(f"{path}: samples must be 2-D (rows × coordinates), got shape {tuple(x.shape)}")
    x_t = torch.from_numpy(np.ascontiguousarray(x))
    finite = torch.isfinite(x_t).all(1)
    if int(finite.sum()) < MIN_ROWS:
        raise UserError(f"{path}: {int(finite.sum())} rows without NaN or infinity; at least {MIN_ROWS} are needed")
    return LabelledPoints(x_t[finite], x_t.new_zeros(int(finite.sum()), 0), int((~finite).sum()), names)
