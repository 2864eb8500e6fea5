"""QM9 molecules for the LieConv experiments (Finzi et al. 2020, data pipeline of Cormorant).

The source is the ``qm9pack==1.0.3`` package: three CSV files with the 130,831 characterised molecules
of QM9 (the 133,885 of gdb9 minus the 3,054 that failed the geometry consistency check), one row per
molecule, in increasing gdb ``Index``. The package is located without importing it (its ``__init__``
imports ``pkg_resources``, which warns).

Units after :func:`parse_qm9_csv`: positions in Angstrom; energies (homo, lumo, gap, zpve, U0, U, H, G)
in meV; mu in D; alpha in bohr^3; r2 in bohr^2; Cv in cal/(mol K). U0, U, H, G and Cv have the sum of
the free atoms' reference values subtracted (the "thermochemical energy" targets of the official code).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from lconv_cli.errors import DataMissingError

log = logging.getLogger(__name__)

MAX_ATOMS = 29
SPECIES = (1, 6, 7, 8, 9)  # atomic numbers of H, C, N, O, F
SYMBOL_TO_Z = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
HARTREE_TO_MEV = 27211.4  # the official factor (27.2114 eV per Hartree)
CSV_FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
CACHE_FORMAT = 1  # bump when the cached content changes


class Target(NamedTuple):
    name: str
    column: str  # CSV column
    unit: str  # unit after conversion
    factor: float  # converted = (raw - atom references) * factor


_MEV = ("meV", HARTREE_TO_MEV)
TARGETS: tuple[Target, ...] = (
    Target("alpha", "Polarizability_bohr3", "bohr^3", 1.0),
    Target("gap", "HOMO_LUMO_gap_au", *_MEV),
    Target("homo", "HOMO_au", *_MEV),
    Target("lumo", "LUMO_au", *_MEV),
    Target("mu", "Dipole_debye", "D", 1.0),
    Target("Cv", "Heatcapacity_Cv_cal_mol_K", "cal/(mol K)", 1.0),
    Target("G", "GibbsFreeEnergy_298K_au", *_MEV),
    Target("H", "Enthalphy_298K_au", *_MEV),
    Target("r2", "R2_bohr2", "bohr^2", 1.0),
    Target("U", "InternalEnergy_298K_au", *_MEV),
    Target("U0", "InternalEnergy_0K_au", *_MEV),
    Target("zpve", "ZPVE_au", *_MEV),
)
TARGET_NAMES = [t.name for t in TARGETS]

# Free-atom reference values of QM9 (Hartree; Cv in cal/(mol K)), per species H, C, N, O, F.
# zpve is a thermochemical target too, but its references are zero.
ATOM_REFS = {
    "U0": (-0.500273, -37.846772, -54.583861, -75.064579, -99.718730),
    "U": (-0.498857, -37.845355, -54.582445, -75.063162, -99.717314),
    "H": (-0.497912, -37.844411, -54.581501, -75.062219, -99.716370),
    "G": (-0.510927, -37.861317, -54.598897, -75.079532, -99.733544),
    "Cv": (2.981, 2.981, 2.981, 2.981, 2.981),
}


def _qm9pack_location() -> str | None:
    """The installed qm9pack package folder, or None; found without importing the package."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(iter(spec.submodule_search_locations))


def qm9pack_data_dir() -> Path:
    """The folder holding qm9pack's CSV files; DataMissingError if the package or its files are absent."""
    package = _qm9pack_location()
    data = Path(package) / "data" if package else None
    if data is None or not all((data / name).is_file() for name in CSV_FILES):
        raise DataMissingError(
            f"QM9 data not found (expected {', '.join(CSV_FILES)} in the qm9pack package's data folder"
            f"{f' {data}' if data else ''}); install it with: pip install qm9pack==1.0.3 (it is in requirements.txt)"
        )
    return data


def _read_rows(paths: Sequence[str | Path], max_rows: int | None):
    import pandas as pd  # only needed for the one-time parse

    columns = ["Index", "N_atoms", "Elements", "XYZ_Ang"] + [t.column for t in TARGETS]
    frames, left = [], max_rows
    for path in paths:
        if left is not None and left <= 0:
            break
        frame = pd.read_csv(path, usecols=columns, nrows=left)
        frames.append(frame)
        left = None if left is None else left - len(frame)
    return pd.concat(frames, ignore_index=True)


def parse_qm9_csv(paths: Sequence[str | Path], max_rows: int | None = None) -> dict:
    """Parse qm9pack CSV files (read in the given order) into padded tensors; M molecules.

    ``max_rows`` keeps only the first rows (over the files in order), for tests.

    Returns a dict:
      charges   int64 (M, 29): atomic numbers (H 1, C 6, N 7, O 8, F 9), zero-padded after each molecule's atoms
      positions float32 (M, 29, 3): coordinates in Angstrom, zero-padded
      num_atoms int64 (M,): atoms per molecule (3..29)
      index     int64 (M,): the gdb9 ``Index`` (1-based, strictly increasing)
      targets   float64 (M, 12): the targets in :data:`TARGETS` order and units (atom references subtracted)
      target_names list[str]: :data:`TARGET_NAMES`
    """
    rows = _read_rows(paths, max_rows)
    if rows.isna().any().any():
        raise ValueError(f"QM9 CSV has missing values in columns {list(rows.columns[rows.isna().any()])}")
    index = rows["Index"].to_numpy(np.int64, copy=True)
    num_atoms = rows["N_atoms"].to_numpy(np.int64, copy=True)
    if not np.all(np.diff(index) > 0):
        raise ValueError("QM9 CSV rows are not in strictly increasing Index order; the split depends on it")
    if num_atoms.min() < 1 or num_atoms.max() > MAX_ATOMS:
        raise ValueError(f"QM9 CSV: atom counts outside 1..{MAX_ATOMS}")
    elements, xyz = rows["Elements"], rows["XYZ_Ang"]
    if not (
        np.all(elements.str.count(",").to_numpy() + 1 == num_atoms)
        and np.all(xyz.str.count(",").to_numpy() + 1 == 3 * num_atoms)
    ):
        raise ValueError("QM9 CSV: Elements or XYZ_Ang lengths disagree with N_atoms")

    # All molecules' atoms, concatenated: "['C','H'],['N','H']" -> ["C", "H", "N", "H"]; likewise the coordinates.
    symbols = ",".join(elements.tolist()).translate(str.maketrans("", "", "[]' ")).split(",")
    flat_z = np.array([SYMBOL_TO_Z[s] for s in symbols], dtype=np.int64)
    flat_xyz = np.array(",".join(xyz.tolist()).translate(str.maketrans("", "", "[] ")).split(","), dtype=np.float64)

    filled = np.arange(MAX_ATOMS) < num_atoms[:, None]  # (M, 29), row-major order matches the flat atoms
    charges = np.zeros((len(rows), MAX_ATOMS), dtype=np.int64)
    charges[filled] = flat_z
    positions = np.zeros((len(rows), MAX_ATOMS, 3), dtype=np.float32)
    positions[filled] = flat_xyz.reshape(-1, 3)

    counts = (charges[:, :, None] == np.array(SPECIES)).sum(axis=1)  # (M, 5) atoms per species
    targets = np.empty((len(rows), len(TARGETS)), dtype=np.float64)
    for k, target in enumerate(TARGETS):
        raw = rows[target.column].to_numpy(np.float64)
        if target.name in ATOM_REFS:
            raw = raw - counts @ np.array(ATOM_REFS[target.name])
        targets[:, k] = raw * target.factor
    return {
        "charges": torch.from_numpy(charges),
        "positions": torch.from_numpy(positions),
        "num_atoms": torch.from_numpy(num_atoms),
        "index": torch.from_numpy(index),
        "targets": torch.from_numpy(targets),
        "target_names": list(TARGET_NAMES),
    }


def qm9_cache_path(cache_dir: str | Path, max_rows: int | None = None) -> Path:
    """``<cache_dir>/qm9/qm9_qm9pack-<version>.pt`` (with ``_first<max_rows>`` for partial parses)."""
    try:
        version = importlib.metadata.version("qm9pack")
    except importlib.metadata.PackageNotFoundError:
        version = "1.0.3"
    suffix = "" if max_rows is None else f"_first{max_rows}"
    return Path(cache_dir) / "qm9" / f"qm9_qm9pack-{version}{suffix}.pt"


def load_qm9(cache_dir: str | Path, max_rows: int | None = None) -> dict:
    """QM9 as :func:`parse_qm9_csv` returns it, parsed once and cached under ``cache_dir`` (see :func:`qm9_cache_path`).

    The cache holds the atoms unpadded (uint8 charges, float32 positions) and is re-padded on load.
    It is written to a temporary name and renamed, so an interrupted run leaves no partial file.
    """
    path = qm9_cache_path(cache_dir, max_rows)
    if path.is_file():
        try:
            cached = torch.load(path, weights_only=True)
        except Exception as error:  # truncated or foreign file: parse again
            log.warning("QM9 cache %s is unreadable (%s); parsing again", path, error)
            cached = {}
        if cached.get("format") == CACHE_FORMAT and cached.get("target_names") == TARGET_NAMES:
            return _unpack(cached)
        log.info("QM9 cache %s is outdated; parsing again", path)
    paths = [qm9pack_data_dir() / name for name in CSV_FILES]
    log.info("Parsing QM9 from %s (once; cached at %s)", paths[0].parent, path)
    data = parse_qm9_csv(paths, max_rows=max_rows)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(_pack(data), tmp)
        os.replace(tmp, path)
    except OSError as error:  # an unwritable cache folder: use the parse, say why it is not kept
        log.warning(
            "QM9 not cached (%s); it will be parsed again next time. Set paths.cache_dir to a writable folder.", error
        )
    finally:
        tmp.unlink(missing_ok=True)
    return data


def _pack(data: dict) -> dict:
    filled = torch.arange(MAX_ATOMS) < data["num_atoms"][:, None]
    return {
        "format": CACHE_FORMAT,
        "atom_charges": data["charges"][filled].to(torch.uint8),  # (A,) over all A atoms
        "atom_positions": data["positions"][filled],  # (A, 3)
        **{key: data[key] for key in ("num_atoms", "index", "targets", "target_names")},
    }


def _unpack(cached: dict) -> dict:
    num_atoms = cached["num_atoms"]
    filled = torch.arange(MAX_ATOMS) < num_atoms[:, None]
    charges = torch.zeros(len(num_atoms), MAX_ATOMS, dtype=torch.int64)
    charges[filled] = cached["atom_charges"].long()
    positions = torch.zeros(len(num_atoms), MAX_ATOMS, 3, dtype=torch.float32)
    positions[filled] = cached["atom_positions"]
    return {
        "charges": charges,
        "positions": positions,
        **{key: cached[key] for key in ("num_atoms", "index", "targets", "target_names")},
    }


def qm9_split(num_molecules: int = 130831, seed: int = 0) -> dict[str, torch.Tensor]:
    """Train/valid/test row indices (LongTensors) into the molecules in increasing gdb Index order.

    Cormorant's rule, which LieConv used: ``perm = RandomState(seed).permutation(M)``; 100,000 train,
    ``int(0.1 * M)`` test, the rest valid; ``train, valid, test = split(perm, [Ntrain, Ntrain + Nvalid])``.
    For M = 130,831: 100,000 / 17,748 / 13,083. Cormorant permuted the same 130,831 characterised molecules
    in gdb order, so this reproduces the official split as closely as we can (assuming its files were read
    in gdb order, as the CSV rows are).
    """
    num_train, num_test = 100_000, int(0.1 * num_molecules)
    num_valid = num_molecules - num_train - num_test
    if num_valid <= 0:
        raise ValueError(f"qm9_split needs more than {num_train + num_test} molecules, got {num_molecules}")
    perm = np.random.RandomState(seed).permutation(num_molecules)
    train, valid, test = np.split(perm, [num_train, num_train + num_valid])
    return {
        "train": torch.from_numpy(train).long(),
        "valid": torch.from_numpy(valid).long(),
        "test": torch.from_numpy(test).long(),
    }


def atom_features(charges: torch.Tensor, charge_power: int = 2, charge_scale: float = 9.0) -> torch.Tensor:
    """Per-atom input features, LieConv's: one-hot species (H, C, N, O, F) times [1, Z/9, (Z/9)^2].

    charges: integer (..., n) atomic numbers, 0 for padding. Returns float32 (..., n, 15), flattened
    species-major (feature 3 * species + power); padding atoms get zeros. Charges are cast to float
    before the division (the official code divided integers).
    """
    one_hot = (charges[..., None] == torch.tensor(SPECIES, device=charges.device)).float()  # (..., n, 5)
    powers = torch.arange(charge_power + 1, device=charges.device, dtype=torch.float32)
    scaled = (charges.float()[..., None] / charge_scale) ** powers  # (..., n, 3)
    return (one_hot[..., :, None] * scaled[..., None, :]).flatten(-2)


class QM9Molecules(torch.utils.data.Dataset):
    """One target over a subset of the molecules of ``data`` (a :func:`load_qm9` dict).

    Item i: (positions float32 (n_i, 3) Angstrom, charges int64 (n_i,), target float64 scalar) for the
    molecule ``indices[i]``, trimmed to its n_i atoms.
    """

    def __init__(self, data: dict, indices: torch.Tensor, target: str):
        if target not in data["target_names"]:
            raise ValueError(f"unknown QM9 target {target!r}; choose from {', '.join(data['target_names'])}")
        self.data, self.indices, self.target = data, torch.as_tensor(indices, dtype=torch.long), target
        self.column = data["target_names"].index(target)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        j = int(self.indices[i])
        n = int(self.data["num_atoms"][j])
        return self.data["positions"][j, :n], self.data["charges"][j, :n], self.data["targets"][j, self.column]

    def targets(self) -> torch.Tensor:
        """float64 (len,): this subset's target values."""
        return self.data["targets"][self.indices, self.column]


def collate_molecules(items: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> dict:
    """Pad a list of :class:`QM9Molecules` items to the batch's largest molecule (n_max atoms).

    Returns positions float32 (B, n_max, 3), charges int64 (B, n_max) (0 = padding), mask bool (B, n_max)
    (True for real atoms), target float64 (B,).
    """
    n_max = max(len(charges) for _, charges, _ in items)
    positions = torch.zeros(len(items), n_max, 3, dtype=torch.float32)
    charges = torch.zeros(len(items), n_max, dtype=torch.int64)
    for b, (pos, z, _) in enumerate(items):
        positions[b, : len(z)] = pos
        charges[b, : len(z)] = z
    target = torch.stack([torch.as_tensor(y, dtype=torch.float64) for _, _, y in items])
    return {"positions": positions, "charges": charges, "mask": charges > 0, "target": target}


class TargetScaler:
    """Standardise a target with the training set's mean and (unbiased, as torch.std) standard deviation."""

    def __init__(self, mean: float, std: float):
        self.mean, self.std = float(mean), float(std)

    @classmethod
    def fit(cls, values: torch.Tensor) -> TargetScaler:
        """values: (N,) training targets."""
        values = values.double()
        return cls(values.mean().item(), values.std().item())

    def standardize(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.mean) / self.std

    def unstandardize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean
