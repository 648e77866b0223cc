"""The warehouse's tables as code: DDL rendered for embedded, server, cluster and Kafka targets
(:mod:`~warehouse.schema.ddl`), applied as idempotent, versioned migrations (:mod:`~warehouse.schema.migrate`)."""
