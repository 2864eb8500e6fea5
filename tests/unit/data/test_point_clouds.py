"""Built-in distributions with a known symmetry, and a user's unlabelled samples from a file."""

import numpy as np
import pytest
import torch

from lconv_cli.data.point_clouds import ETA, point_cloud
from lconv_cli.data.points_file import load_samples
from lconv_cli.errors import DataMissingError, UserError
from lconv_cli.lie.vector_fields import evaluate, monomial_exponents


@pytest.mark.parametrize(("name", "n", "dim"), [("sphere", 3, 3), ("lorentz", 4, 6), ("bent", 2, 1)])
def test_samples_are_seeded_and_the_symmetry_keeps_the_invariant(name, n, dim):
    cloud = point_cloud(name, 0.1, 1.5)
    first = cloud.sample(300, torch.Generator().manual_seed(0))
    assert first.shape == (300, n) and first.dtype == torch.float64
    assert torch.equal(first, cloud.sample(300, torch.Generator().manual_seed(0)))
    fields = cloud.symmetry(3)
    assert fields.shape == (dim, monomial_exponents(n, 3).shape[0] * n)
    invariant = {  # what each distribution's symmetry keeps, and its gradient
        "sphere": lambda x: 2 * x,
        "lorentz": lambda x: 2 * x @ ETA,
        "bent": lambda x: torch.stack(
            [2 * x[:, 0] - 4 * x[:, 0] * (x[:, 1] - x[:, 0] ** 2), 2 * (x[:, 1] - x[:, 0] ** 2)], 1
        ),
    }[name]
    moved = evaluate(fields, first, monomial_exponents(n, 3))
    assert torch.einsum("kni,ni->kn", moved, invariant(first)).abs().max() < 1e-10


def test_the_lorentz_shell_is_thin_and_the_bent_symmetry_needs_cubic_fields():
    x = point_cloud("lorentz", 0.05, 1.5).sample(2000, torch.Generator().manual_seed(0))
    q = torch.einsum("ni,ij,nj->n", x, ETA, x)
    assert abs(float(q.mean()) - 1) < 0.01 and 0.03 < float(q.std()) < 0.07
    assert point_cloud("bent", 0.1, 1.5).symmetry(2).shape[0] == 0


def test_an_unknown_distribution_is_one_line():
    with pytest.raises(UserError, match="must be one of sphere, lorentz, bent"):
        point_cloud("torus", 0.1, 1.5)


def test_unlabelled_samples_load_from_every_format_and_nan_rows_are_dropped(tmp_path):
    x = np.arange(60, dtype=np.float64).reshape(20, 3)
    x[4, 1] = np.nan
    np.savez(tmp_path / "s.npz", points=x)
    np.save(tmp_path / "s.npy", x)
    torch.save(torch.from_numpy(x), tmp_path / "s.pt")
    (tmp_path / "s.csv").write_text("a,b,c\n" + "\n".join(",".join(str(v) for v in row) for row in x) + "\n")
    for path, kwargs in (("s.npz", {"x_key": "points"}), ("s.npy", {}), ("s.pt", {}), ("s.csv", {})):
        samples = load_samples(tmp_path / path, **kwargs)
        assert samples.x.shape == (19, 3) and samples.dropped == 1 and samples.y.shape == (19, 0)
    assert load_samples(tmp_path / "s.csv", x_columns=["a", "c"]).x.shape == (20, 2)  # the NaN is in column b
    with pytest.raises(DataMissingError):
        load_samples(tmp_path / "missing.csv")
    with pytest.raises(UserError, match="no array 'x'"):
        load_samples(tmp_path / "s.npz")
    np.save(tmp_path / "flat.npy", np.zeros(30))
    with pytest.raises(UserError, match="2-D"):
        load_samples(tmp_path / "flat.npy")
