"""The bundled Hydra config tree (installed as ``lconv_cli.conf``; Hydra imports this package to read it).

Choices that change nothing are registered here as empty configs instead of empty YAML files, so
they stay valid choices (and a misspelt one stays an error): ``scale=quick`` and ``scale=paper``
(each experiment's sizes for them are in ``experiment_scale/<experiment>/<scale>.yaml``, where it has
any) and ``conventions=centred`` (the defaults of ``data/rotation_pairs.yaml``).
"""

from hydra.core.config_store import ConfigStore

EMPTY_CHOICES = (("scale", "quick"), ("scale", "paper"), ("conventions", "centred"))

for _group, _name in EMPTY_CHOICES:
    ConfigStore.instance().store(group=_group, name=_name, node={}, package="_global_")
