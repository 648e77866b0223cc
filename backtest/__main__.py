"""``python -m backtest``: see :mod:`backtest.cli` (``--help`` lists the config groups)."""

import sys

from backtest.cli import main

sys.exit(main())
