"""The bundled experiments: each module registers its ``run(cfg) -> metrics`` with ``@register("<name>")``.

The registry imports every module of this package (``lconv_cli.runner.registry.import_bundled``), so
adding one is: write ``experiments/<name>.py``, add ``conf/experiment/<name>.yaml`` (``task: <name>``)
and, where a scale differs from the experiment's own values, ``conf/experiment_scale/<name>/<scale>.yaml``.
Nothing here lists them.
"""
