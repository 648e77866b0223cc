"""The optional installs the broker commands need, and the one-line hint when one is missing.

``pip install tickhouse`` is the core; ``[redis]`` adds redis-py with hiredis, ``[kafka]``
confluent-kafka (``[all]``: every extra). A command imports its broker client only when
it runs, after :func:`require` has checked that it is there.

>>> require("redis", "ingest redis")  # installed here: nothing happens
>>> hint("kafka", "produce kafka")
"produce kafka needs the kafka extra: pip install 'tickhouse[kafka]'"
"""

from __future__ import annotations

import importlib

from warehouse.errors import WarehouseError

MODULES: dict[str, tuple[str, ...]] = {"redis": ("redis", "hiredis"), "kafka": ("confluent_kafka",)}
"""The modules each extra installs (as imported)."""


def hint(extra: str, command: str) -> str:
    """The one line that says which extra ``command`` needs and how to install it."""
    return f"{command} needs the {extra} extra: pip install 'tickhouse[{extra}]'"


def require(extra: str, command: str) -> None:
    """Raise :class:`~warehouse.errors.WarehouseError` with :func:`hint` unless ``extra``'s modules import."""
    for module in MODULES[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            raise WarehouseError(hint(extra, command)) from None
