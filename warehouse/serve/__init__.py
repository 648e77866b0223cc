"""``python -m warehouse serve``: one process owns the embedded warehouse and serves it over HTTP — the ClickHouse
HTTP interface subset, the ``/api`` endpoints, the hot path (in-memory state fed by a stream consumer)."""
