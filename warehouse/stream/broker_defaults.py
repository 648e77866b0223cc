"""Default broker addresses and names of the stream commands, importable without any broker client."""

from __future__ import annotations

DEFAULT_BROKERS = "127.0.0.1:9092"  # Kafka bootstrap servers
DEFAULT_TOPIC = "ticks"
DEFAULT_GROUP = "tickhouse"  # Kafka consumer group; also the Redis stream's consumer group
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_STREAM = "ticks:stream"
