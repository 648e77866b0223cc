"""Seeded synthetic trades for demos, tests and benchmarks, with the redeliveries and corrections a
warehouse must absorb (:mod:`~warehouse.demo.generate`; its numba recursions in :mod:`~warehouse.demo.kernels`),
quotes consistent with them (:mod:`~warehouse.demo.quotes`), and an NSE-like market in IST beside them
(:mod:`~warehouse.demo.kite`: the model and its KiteTicker ticks; :mod:`~warehouse.demo.nse`: loaded by the demo)."""
