"""The registry in-process: bundled discovery, rules an experiment declares, plugin entry points and config paths."""

from __future__ import annotations

from importlib import metadata

import pytest
from omegaconf import OmegaConf

from lconv_cli.errors import UserError
from lconv_cli.runner import plugins, registry
from lconv_cli.runner.schema import POSITIVE_INT, RULES, rule_for, validate_config


@pytest.fixture
def fresh_registry(monkeypatch):
    """An empty registry for the test (the real one is restored after)."""
    monkeypatch.setattr(registry, "REGISTRY", {})
    monkeypatch.setattr(registry, "DECLARED_RULES", {})


def fake_entry_points(monkeypatch, *declared: tuple[str, str, str]) -> None:
    """Make ``plugins.entry_points(group)`` return the given (name, value, group) entry points."""
    points = [metadata.EntryPoint(name, value, group) for name, value, group in declared]
    monkeypatch.setattr(plugins, "entry_points", lambda group: [ep for ep in points if ep.group == group])


def test_bundled_experiments_are_discovered_not_listed(fresh_registry, monkeypatch, tmp_path):
    package = tmp_path / "lconv_test_bundle"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("first", "second"):
        (package / f"{name}.py").write_text(
            f"from lconv_cli.runner.registry import register\n\n\n@register({name!r})\ndef run(cfg):\n    return {{}}\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "BUNDLED_PACKAGE", "lconv_test_bundle")
    registry.import_bundled()
    assert sorted(registry.REGISTRY) == ["first", "second"]


def test_declared_rules_check_the_experiments_own_keys(fresh_registry):
    @registry.register("toy", rules=[("toy.width", POSITIVE_INT), ("seed", POSITIVE_INT)])
    def run(cfg):
        return {}

    assert rule_for("toy.width", "toy") is POSITIVE_INT
    assert rule_for("toy.width") is None
    assert rule_for("seed", "toy") is dict(RULES)["seed"]  # the shared table decides the keys it covers
    validate_config(OmegaConf.create({"task": "toy", "seed": 0, "toy": {"width": 2, "depth": -1}}))
    with pytest.raises(UserError, match=r"^toy.width must be a positive integer; got 0$"):
        validate_config(OmegaConf.create({"task": "toy", "toy": {"width": 0}}))


def test_values_that_need_no_declared_rule_import_no_experiment(monkeypatch):
    monkeypatch.setattr(registry, "load", lambda name: pytest.fail(f"{name} imported to check a value"))
    validate_config(OmegaConf.create({"task": "toy", "seed": 1, "device": "cpu", "resume": None, "tags": []}))


def test_rules_must_be_key_rule_pairs():
    with pytest.raises(TypeError, match="each rule is a"):
        registry.register("toy", rules=[("toy.width", 3)])


def test_a_plugin_that_fails_to_import_is_one_line(fresh_registry, monkeypatch):
    monkeypatch.setattr(registry, "import_bundled", lambda: None)
    fake_entry_points(monkeypatch, ("toy", "lconv_no_such_module.experiment", plugins.EXPERIMENTS_GROUP))
    with pytest.raises(UserError) as info:
        registry.load("toy")
    message = str(info.value)
    assert "'toy = lconv_no_such_module.experiment' (lconv.experiments" in message and "\n" not in message
    assert "failed to import: ModuleNotFoundError" in message


def test_a_plugin_that_registers_nothing_is_refused(fresh_registry, monkeypatch):
    monkeypatch.setattr(registry, "import_bundled", lambda: None)
    fake_entry_points(monkeypatch, ("toy", "json", plugins.EXPERIMENTS_GROUP))
    with pytest.raises(UserError, match=r"registers no experiment 'toy' \(decorate its run function"):
        registry.load("toy")


def test_a_name_no_plugin_declares_is_not_an_error(fresh_registry, monkeypatch):
    monkeypatch.setattr(registry, "import_bundled", lambda: None)
    fake_entry_points(monkeypatch)
    assert registry.load_plugin("toy") is False
    assert registry.declared_rules("toy") == ()
    with pytest.raises(KeyError, match="no experiment registered as 'toy'"):
        registry.get_experiment("toy")


def test_plugin_configs_are_appended_to_the_search_path(monkeypatch, tmp_path):
    fake_entry_points(monkeypatch, ("toy", "json", plugins.CONFIGS_GROUP))  # any importable package
    monkeypatch.setenv(plugins.CONFIG_PATH_ENV, str(tmp_path))
    overrides = plugins.with_plugin_searchpath(["seed=1", "hydra.searchpath=[pkg://mine]"])
    assert overrides == ["seed=1", f"hydra.searchpath=['pkg://mine','pkg://json','file://{tmp_path}']"]


def test_unreadable_config_sources_are_skipped_and_named(monkeypatch, tmp_path):
    fake_entry_points(monkeypatch, ("toy", "lconv_no_such_module.conf", plugins.CONFIGS_GROUP))
    monkeypatch.setenv(plugins.CONFIG_PATH_ENV, str(tmp_path / "missing"))
    readable, problems = plugins.readable_plugin_sources()
    assert readable == []
    assert "ModuleNotFoundError" in problems[0] and "'toy = lconv_no_such_module.conf'" in problems[0]
    assert "no such folder" in problems[1]
    assert plugins.with_plugin_searchpath(["seed=1"]) == ["seed=1"]


def test_without_plugins_nothing_changes(monkeypatch):
    fake_entry_points(monkeypatch)
    monkeypatch.delenv(plugins.CONFIG_PATH_ENV, raising=False)
    assert plugins.with_plugin_searchpath(["seed=1"]) == ["seed=1"]
    assert {config.origin for config in plugins.experiment_configs().values()} == {plugins.BUNDLED_ORIGIN}
