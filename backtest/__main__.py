"""``python -m backtest``: see :mod:`backtest.cli`."""

import sys

from backtest.cli import main

sys.exit(main())
