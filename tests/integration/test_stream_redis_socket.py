"""The Redis consumer's own socket (warehouse.stream.redis_socket) against a real redis-server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import redis

from support.brokers import redis_server
from warehouse.stream.redis_socket import RedisSocket


def test_password_and_db_of_the_url_reconnect_and_errors():
    with redis_server() as url:
        port = urlsplit(url).port
        redis.Redis.from_url(url).config_set("requirepass", "s3cret")
        redis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{port}/3").set("k", "in db 3")

        sock = RedisSocket(f"redis://:s3cret@127.0.0.1:{port}/3")
        assert sock.call("GET", "k") == b"in db 3"
        assert sock.call("QUIT") == b"OK"
        with pytest.raises(redis.ConnectionError, match="closed the connection"):
            sock.recv_into(memoryview(bytearray(16)))
        assert sock.call("GET", "k") == b"in db 3"  # the next command connects again
        sock.close()

        with pytest.raises(redis.ResponseError):
            RedisSocket(f"redis://:wrong@127.0.0.1:{port}/3")
        with pytest.raises(redis.ResponseError):  # an error reply of a command, parsed by hiredis
            RedisSocket(f"redis://:s3cret@127.0.0.1:{port}/0").call("XREADGROUP", "GROUP", "nope", "c",
                                                                    "STREAMS", "missing", ">")
    with pytest.raises(redis.ConnectionError, match="cannot connect"):
        RedisSocket(url)  # the server is gone
