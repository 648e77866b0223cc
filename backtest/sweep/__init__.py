"""Parameter sweeps: many parameter sets of one strategy evaluated in one compiled pass per chunk.

- :mod:`backtest.sweep.spec` -- ``sweep.*`` settings and the sets they name (grid or random);
- :mod:`backtest.sweep.chunk` -- one chunk of sets through :mod:`backtest.sweep.kernels`;
- :mod:`backtest.sweep.local` -- :func:`~backtest.sweep.local.sweep`: the chunks on this machine's cores (or Dask);
- :mod:`backtest.sweep.collect` -- each chunk's rows to Parquet, a bounded ranking and the heatmap cells;
- :mod:`backtest.sweep.progress` -- the progress bar, or a status line every few seconds off a terminal;
- :mod:`backtest.sweep.dask_executor` -- the same chunks on Dask workers;
- :mod:`backtest.sweep.walk_forward` -- train/test windows rolled over the bars;
- :mod:`backtest.sweep.cli` -- what ``python -m backtest +sweep=...`` runs;
- ``hydra_plugins/tickhouse_sweeper.py`` -- the Hydra sweeper that hands ``sweep.params.*`` to
  one job as text (installed as the plugin ``hydra_plugins.tickhouse_sweeper``, not part of this package).
"""
