"""Seeded synthetic trades for demos, tests and benchmarks, with the redeliveries and corrections a
warehouse must absorb (:mod:`~warehouse.demo.generate`; its numba recursions in :mod:`~warehouse.demo.kernels`)."""
