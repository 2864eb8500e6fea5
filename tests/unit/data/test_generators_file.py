"""The generators file: round trip and one-line errors."""

import pytest
import torch

from lconv_cli.data.generators_file import (
    generator_paths,
    load_generator_files,
    load_generators,
    provenance,
    save_generators,
)
from lconv_cli.errors import UserError


def test_generators_file_round_trip_and_errors(tmp_path):
    gens = torch.randn(2, 9, 9, dtype=torch.float64)
    path = save_generators(tmp_path / "g.pt", gens, [3, 3], ["a", "b"], {"task": "t"})
    data = (
        load_generators(tmp_path, dim=9, count=2)
        if path.name == "generators.pt"
        else load_generators(path, dim=9, count=2)
    )
    torch.testing.assert_close(data["generators"], gens, rtol=0, atol=0)
    assert data["names"] == ["a", "b"] and data["shape"] == [3, 3] and data["source"] == {"task": "t"}
    with pytest.raises(UserError, match="needs 16"):
        load_generators(path, dim=16)
    with pytest.raises(UserError, match="holds 2 generators"):
        load_generators(path, count=1)
    with pytest.raises(UserError, match="no file"):
        load_generators(tmp_path / "missing.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not an lconv generators file"):
        load_generators(tmp_path / "other.pt")
    with pytest.raises(ValueError):
        save_generators(tmp_path / "bad.pt", gens, [4, 4])


def test_provenance_names_the_file_and_a_discovery_run_that_is_gone(tmp_path):
    path = save_generators(
        tmp_path / "g.pt", torch.eye(4)[None], [2, 2], None, {"task": "t", "run_dir": str(tmp_path / "gone")}
    )
    used = provenance(tmp_path / "g.pt")
    assert used["file"] == str((tmp_path / "g.pt").resolve()) and used["count"] == 1 and used["names"] == ["L0"]
    assert used["discovery_run"] == str(tmp_path / "gone") and used["discovery_config_sha256"] is None
    assert used["discovery_metrics"] == {} and len(used["file_sha256"]) == 64
    assert path.is_file()


def test_several_generator_files_concatenate_in_order(tmp_path):
    first, second = torch.randn(2, 4, 4, dtype=torch.float64), torch.randn(1, 4, 4, dtype=torch.float64)
    save_generators(tmp_path / "a.pt", first, [2, 2])
    save_generators(tmp_path / "b.pt", second, [2, 2])
    assert generator_paths(None) == [] and generator_paths(tmp_path / "a.pt") == [str(tmp_path / "a.pt")]
    both = load_generator_files([str(tmp_path / "a.pt"), str(tmp_path / "b.pt")], dim=4)
    assert torch.equal(both, torch.cat([first, second]))
    with pytest.raises(UserError, match="this model needs 9"):
        load_generator_files([str(tmp_path / "a.pt")], dim=9)
    with pytest.raises(UserError, match="no file given"):
        load_generator_files([])
