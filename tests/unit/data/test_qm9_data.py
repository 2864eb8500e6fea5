"""QM9 loading: parsing the qm9pack CSV, targets and units, the Cormorant split, features, batching, cache.

Only the first rows of the data are parsed, so the file runs in seconds.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from lconv_cli.data import qm9
from lconv_cli.errors import DataMissingError

MEV = 27211.4
HAS_QM9PACK = importlib.util.find_spec("qm9pack") is not None
needs_qm9pack = pytest.mark.skipif(not HAS_QM9PACK, reason="qm9pack is not installed (pip install qm9pack==1.0.3)")
NUM_ROWS = 30


def _part(i: int) -> Path:
    return qm9.qm9pack_data_dir() / f"qm9_part{i}.csv"


@pytest.fixture(scope="module")
def first_rows() -> dict:
    if not HAS_QM9PACK:
        pytest.skip("qm9pack is not installed")
    return qm9.parse_qm9_csv([_part(1)], max_rows=NUM_ROWS)


def _col(data: dict, name: str) -> torch.Tensor:
    return data["targets"][:, data["target_names"].index(name)]


def test_target_table():
    names = ["alpha", "gap", "homo", "lumo", "mu", "Cv", "G", "H", "r2", "U", "U0", "zpve"]
    assert [t.name for t in qm9.TARGETS] == names == qm9.TARGET_NAMES
    energies = {"gap", "homo", "lumo", "G", "H", "U", "U0", "zpve"}
    for t in qm9.TARGETS:
        assert (t.unit, t.factor) == (("meV", MEV) if t.name in energies else (t.unit, 1.0))


@needs_qm9pack
def test_shapes_and_dtypes(first_rows):
    d = first_rows
    assert d["charges"].shape == (NUM_ROWS, 29) and d["charges"].dtype == torch.int64
    assert d["positions"].shape == (NUM_ROWS, 29, 3) and d["positions"].dtype == torch.float32
    assert d["num_atoms"].dtype == d["index"].dtype == torch.int64
    assert d["targets"].shape == (NUM_ROWS, 12) and d["targets"].dtype == torch.float64
    assert d["target_names"] == qm9.TARGET_NAMES
    assert torch.equal(d["index"], torch.arange(1, NUM_ROWS + 1))  # the first gdb molecules are all characterised


@needs_qm9pack
def test_methane_and_ammonia_targets(first_rows):
    d = first_rows
    assert d["num_atoms"][0] == 5 and d["charges"][0, :6].tolist() == [6, 1, 1, 1, 1, 0]
    expected = {
        "homo": -0.3877 * MEV,
        "lumo": 0.1171 * MEV,
        "gap": 0.5048 * MEV,
        "zpve": 0.044749 * MEV,  # zpve has zero atom references
        "U0": (-40.47893 - (-37.846772 - 4 * 0.500273)) * MEV,
        "Cv": 6.469 - 5 * 2.981,
        "mu": 0.0,
        "alpha": 13.21,
        "r2": 35.3641,
    }
    for name, value in expected.items():
        assert _col(d, name)[0].item() == pytest.approx(value, rel=1e-12, abs=1e-9), name
    # Ammonia (Index 2, NH3): Gibbs free energy with N and 3 H references.
    assert d["charges"][1, :4].tolist() == [7, 1, 1, 1]
    assert _col(d, "G")[1].item() == pytest.approx((-56.544961 - (-54.598897 - 3 * 0.510927)) * MEV, rel=1e-12)


@needs_qm9pack
def test_atoms_match_csv(first_rows):
    with open(_part(1), newline="") as handle:
        rows = [row for _, row in zip(range(NUM_ROWS), csv.DictReader(handle))]
    symbols = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
    for i, row in enumerate(rows):
        xyz = np.array(ast.literal_eval(row["XYZ_Ang"]), dtype=np.float64)
        z = [symbols[s] for s in ast.literal_eval(row["Elements"])]
        n = len(z)
        assert int(first_rows["index"][i]) == int(row["Index"]) and int(first_rows["num_atoms"][i]) == n
        assert first_rows["charges"][i, :n].tolist() == z and not first_rows["charges"][i, n:].any()
        np.testing.assert_allclose(first_rows["positions"][i, :n].numpy(), xyz, rtol=1e-6, atol=1e-6)
        assert not first_rows["positions"][i, n:].any()


@needs_qm9pack
def test_several_files_in_order_and_max_rows(tmp_path):
    """Rows are read across the files in order; max_rows counts over all of them; out-of-order Index is refused."""
    lines = {}
    for i in (1, 2):
        with open(_part(i)) as handle:
            lines[i] = [handle.readline() for _ in range(4)]  # header + 3 rows
    (tmp_path / "a.csv").write_text("".join(lines[1]))
    (tmp_path / "b.csv").write_text("".join(lines[2]))
    paths = [tmp_path / "a.csv", tmp_path / "b.csv"]
    assert qm9.parse_qm9_csv(paths)["index"].tolist() == [1, 2, 3, 44747, 44748, 44749]
    assert qm9.parse_qm9_csv(paths, max_rows=4)["index"].tolist() == [1, 2, 3, 44747]
    with pytest.raises(ValueError, match="increasing Index"):
        qm9.parse_qm9_csv(paths[::-1])


def test_split_sizes_disjoint_cover_deterministic():
    split = qm9.qm9_split()
    assert [len(split[k]) for k in ("train", "valid", "test")] == [100000, 17748, 13083]
    assert all(v.dtype == torch.int64 for v in split.values())
    everything = torch.cat([split["train"], split["valid"], split["test"]])
    assert torch.equal(everything.sort().values, torch.arange(130831))  # disjoint and covering
    again = qm9.qm9_split(130831, seed=0)
    assert all(torch.equal(split[k], again[k]) for k in split)
    assert not torch.equal(qm9.qm9_split(seed=1)["test"], split["test"])
    perm = np.random.RandomState(0).permutation(130831)
    assert split["train"][:5].tolist() == perm[:5].tolist() and split["test"][-5:].tolist() == perm[-5:].tolist()


def test_atom_features():
    charges = torch.tensor([[6, 1, 0], [9, 0, 0]])
    f = qm9.atom_features(charges)
    assert f.shape == (2, 3, 15) and f.dtype == torch.float32
    carbon = torch.zeros(15)
    carbon[3:6] = torch.tensor([1.0, 6 / 9, (6 / 9) ** 2])  # species 1 (C), powers 0..2
    torch.testing.assert_close(f[0, 0], carbon)
    hydrogen = torch.zeros(15)
    hydrogen[0:3] = torch.tensor([1.0, 1 / 9, 1 / 81])
    torch.testing.assert_close(f[0, 1], hydrogen)
    assert f[1, 0, 12:].tolist() == [1.0, 1.0, 1.0] and f[1, 0, :12].abs().sum() == 0  # fluorine: Z/9 = 1
    assert not f[0, 2].any() and not f[1, 1:].any()  # padding


@needs_qm9pack
def test_dataset_and_collate(first_rows):
    ds = qm9.QM9Molecules(first_rows, torch.tensor([2, 0, 1]), "homo")  # water, methane, ammonia
    assert len(ds) == 3
    pos, z, y = ds[1]
    assert pos.shape == (5, 3) and z.tolist() == [6, 1, 1, 1, 1] and y.dtype == torch.float64
    assert y.item() == pytest.approx(-0.3877 * MEV)
    batch = qm9.collate_molecules([ds[i] for i in range(3)])
    assert batch["positions"].shape == (3, 5, 3) and batch["positions"].dtype == torch.float32
    assert batch["charges"].shape == (3, 5) and batch["charges"].dtype == torch.int64
    assert batch["mask"].dtype == torch.bool and batch["mask"].sum(1).tolist() == [3, 5, 4]
    assert batch["charges"][0].tolist() == [8, 1, 1, 0, 0]
    assert not batch["positions"][~batch["mask"]].any()
    torch.testing.assert_close(batch["positions"][2, :4], first_rows["positions"][1, :4])
    assert batch["target"].dtype == torch.float64
    torch.testing.assert_close(batch["target"], ds.targets())
    with pytest.raises(ValueError, match="unknown QM9 target"):
        qm9.QM9Molecules(first_rows, torch.tensor([0]), "energy")


def test_target_scaler():
    values = torch.tensor([1.0, 2.0, 4.0, 9.0], dtype=torch.float64)
    scaler = qm9.TargetScaler.fit(values)
    assert scaler.mean == pytest.approx(4.0) and scaler.std == pytest.approx(values.std().item())
    z = scaler.standardize(values)
    assert z.mean().item() == pytest.approx(0.0, abs=1e-12) and z.std().item() == pytest.approx(1.0)
    torch.testing.assert_close(scaler.unstandardize(z), values)


@needs_qm9pack
def test_cache_round_trip(tmp_path, monkeypatch):
    data = qm9.load_qm9(tmp_path, max_rows=NUM_ROWS)
    cache = tmp_path / "qm9" / f"qm9_qm9pack-1.0.3_first{NUM_ROWS}.pt"
    assert qm9.qm9_cache_path(tmp_path, NUM_ROWS) == cache
    assert qm9.qm9_cache_path(tmp_path).name == "qm9_qm9pack-1.0.3.pt"
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]  # no temporary file left behind

    def no_parsing(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(qm9, "parse_qm9_csv", no_parsing)
    monkeypatch.setattr(qm9, "_qm9pack_location", lambda: None)  # the cache alone suffices
    cached = qm9.load_qm9(tmp_path, max_rows=NUM_ROWS)
    assert cached["target_names"] == data["target_names"]
    for key in ("charges", "positions", "num_atoms", "index", "targets"):
        assert cached[key].dtype == data[key].dtype and torch.equal(cached[key], data[key]), key


@pytest.mark.parametrize("package", [None, "empty"])
def test_missing_package_message(tmp_path, monkeypatch, package):
    location = None if package is None else str(tmp_path / "qm9pack")  # a package folder without data/
    monkeypatch.setattr(qm9, "_qm9pack_location", lambda: location)
    with pytest.raises(DataMissingError, match=r"pip install qm9pack==1\.0\.3"):
        qm9.qm9pack_data_dir()
    with pytest.raises(DataMissingError, match=r"pip install qm9pack==1\.0\.3"):
        qm9.load_qm9(tmp_path / "data")
    assert not (tmp_path / "data").exists()  # nothing written when there is nothing to parse
