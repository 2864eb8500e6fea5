"""The runner: the ``lconv`` command line, the Hydra app, the experiment registry, config checks, run records and sweeps."""
