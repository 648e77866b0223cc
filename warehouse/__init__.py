"""The only package that speaks to ClickHouse: client, schema, loaders, demo data, CLI."""
