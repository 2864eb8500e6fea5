"""lconv: a Hydra-driven experiment runner for symmetry discovery and Lie-group equivariant networks.

The package, from the bottom layer up (each layer imports only the ones above it in this list):

- ``errors``     the one-line user errors every layer raises
- ``lie``        Lie-algebra math as pure functions (generators, exp maps, Shannon–Whittaker, metrics)
- ``groups``     Lie groups for LieConv (elements, logarithms, lifts of point clouds)
- ``physics``    Hamiltonian mechanics of the spring systems
- ``data``       datasets: synthetic pairs, images, QM9, springs, generator files
- ``models``     the shared model zoo (L-conv, LieConv, classifiers, dynamics)
- ``reporting``  figures, result tables, experiment tracking
- ``train``      the Trainer, optimisers, seeded random streams, evaluation helpers
- ``runner``     the ``lconv`` command line, Hydra app, registry, config checks, run records, sweeps

The experiments (``lconv_cli.experiments``, ``experiments/`` in the repository) sit on top: each
registers ``run(cfg) -> metrics`` with ``lconv_cli.runner.registry.register``.
"""

__version__ = "0.1.0"
