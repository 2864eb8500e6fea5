"""Reading a user's labelled points: every format, column choices, NaN rows dropped, one-line errors."""

import numpy as np
import pytest
import torch

from lconv_cli.data.points_file import load_labelled_points
from lconv_cli.errors import DataMissingError, UserError

X = np.arange(24, dtype=np.float64).reshape(12, 2)
Y = X[:, 0] - X[:, 1] ** 2


def test_every_format_gives_the_same_points(tmp_path):
    np.savez(tmp_path / "p.npz", inputs=X, target=Y)
    np.save(tmp_path / "p.npy", np.column_stack([X, Y]))
    torch.save({"x": torch.from_numpy(X), "y": torch.from_numpy(Y)}, tmp_path / "d.pt")
    torch.save(torch.from_numpy(np.column_stack([X, Y])), tmp_path / "t.pt")
    lines = ["a,b,energy"] + [f"{a},{b},{c}" for (a, b), c in zip(X, Y)]
    (tmp_path / "p.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "bare.csv").write_text("\n".join(lines[1:]) + "\n")
    loaded = [
        load_labelled_points(tmp_path / "p.npz", x_key="inputs", y_key="target"),
        load_labelled_points(tmp_path / "p.npy"),
        load_labelled_points(tmp_path / "d.pt"),
        load_labelled_points(tmp_path / "t.pt"),
        load_labelled_points(tmp_path / "p.csv"),
        load_labelled_points(tmp_path / "p.csv", x_columns=["b", "a"], y_columns="energy"),
        load_labelled_points(tmp_path / "bare.csv", y_columns=[2]),
    ]
    for i, points in enumerate(loaded):
        x = points.x if i != 5 else points.x.flip(1)
        assert torch.equal(x, torch.from_numpy(X)) and torch.equal(points.y[:, 0], torch.from_numpy(Y)), i
        assert points.dropped == 0
    assert loaded[4].columns == ["a", "b"]


def test_rows_with_nan_or_inf_are_dropped_and_counted(tmp_path):
    table = np.column_stack([X, Y])
    table[3, 0], table[7, 2] = np.nan, np.inf
    np.save(tmp_path / "p.npy", table)
    points = load_labelled_points(tmp_path / "p.npy")
    assert points.dropped == 2 and len(points.x) == 10
    assert torch.isfinite(points.x).all() and torch.isfinite(points.y).all()


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda d: d / "absent.npz", DataMissingError, "no such file"),
        (lambda d: _write(d / "p.txt", "1,2"), UserError, "unknown format"),
        (lambda d: _write(d / "p.npz", b"not a zip"), UserError, "cannot be read"),
        (lambda d: _savez(d / "p.npz", x=X), UserError, "no array 'y'"),
        (lambda d: _savez(d / "p.npz", x=X, y=Y[:5]), UserError, "expected 12 rows"),
        (lambda d: _savez(d / "p.npz", x=X[:, 0], y=Y), UserError, "must be 2-D"),
        (lambda d: _write(d / "p.csv", "a,b\n1,x\n"), UserError, "not a number"),
        (lambda d: _write(d / "p.csv", "a,b\n1,2\n"), UserError, "at least 10"),
        (lambda d: _save(d / "p.npy", np.column_stack([X, Y])), UserError, "named 'z'"),
        (lambda d: _save(d / "p.npy", np.full((12, 3), np.nan)), UserError, "without NaN"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, make, error, words):
    path = make(tmp_path)
    with pytest.raises(error, match=words):
        load_labelled_points(path, y_columns=["z"] if words == "named 'z'" else None)


def _write(path, content):
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return path


def _savez(path, **arrays):
    np.savez(path, **arrays)
    return path


def _save(path, array):
    np.save(path, array)
    return path
