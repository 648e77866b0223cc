"""The error strategies raise for bad input: one line naming the field and value."""


class StrategyError(ValueError):
    """An unknown strategy or a refused parameter; the CLI prints it as one line and exits 2.

    >>> str(StrategyError("strategy.fast: 0 must be an integer >= 1"))
    'strategy.fast: 0 must be an integer >= 1'
    """
