"""The named experiments. Importing this package registers each module's ``run(cfg) -> metrics``.

To add one: write ``experiments/<name>.py`` with ``@register("<name>") def run(cfg)``, import it
below, and add ``conf/experiment/<name>.yaml`` (``task: <name>``) plus its
``conf/experiment_scale/<name>/{smoke,quick,paper}.yaml``.
"""

from lconv_cli.experiments import (  # noqa: F401
    algebra_discovery,
    image_classification,
    latent_symmetry,
    lieconv_qm9,
    lieconv_rotmnist,
    lieconv_springs,
    so2_discovery,
    translation_1d,
)
