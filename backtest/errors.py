"""The error the backtest layer raises for bad input: one line naming the field and value."""


class BacktestError(ValueError):
    """Bad configuration or input; the CLI prints it as one line and exits 2."""
