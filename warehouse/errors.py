"""The one exception type the warehouse raises for problems a user can fix.

Its message is a single line that names the field/value at fault and, where
possible, what to do. The CLI prints it as ``error: <message>`` and exits 2.
"""


class WarehouseError(Exception):
    """A user-facing warehouse problem with a one-line message.

    >>> str(WarehouseError("dsn: unsupported scheme 'ftp'"))
    "dsn: unsupported scheme 'ftp'"
    """
