"""Apply the schema migrations to a warehouse: idempotent and versioned.

``schema_version`` records each applied migration. Running :func:`migrate`
twice changes nothing; an older schema is upgraded by the migrations it lacks.
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from warehouse.schema.ddl import LATEST_VERSION, MIGRATIONS, Target, kafka_ddl, render, version_table_ddl


def current_version(client: Client) -> int:
    """The highest applied schema version, 0 for an empty warehouse.

    >>> from warehouse.client import connect
    >>> current_version(connect()) >= 0
    True
    """
    if not client.command("EXISTS TABLE schema_version"):
        return 0
    return int(client.command("SELECT max(version) FROM schema_version") or 0)


def migrate(client: Client, target: Target | None = None, to_version: int = LATEST_VERSION) -> list[int]:
    """Bring the schema up to ``to_version``; return the versions applied now.

    >>> from warehouse.client import connect
    >>> client = connect()
    >>> _ = migrate(client)
    >>> migrate(client)  # a second run changes nothing
    []
    """
    target = target or Target()
    client.command(version_table_ddl(target))
    start = current_version(client)
    applied = []
    for migration in MIGRATIONS:
        if start < migration.version <= to_version:
            for statement in migration.render(target):
                client.command(statement)
            client.insert(
                "schema_version",
                [[migration.version, migration.description]],
                column_names=["version", "description"],
            )
            applied.append(migration.version)
    for statement in kafka_ddl(target):
        client.command(statement)
    return applied


__all__ = ["current_version", "migrate", "render"]
