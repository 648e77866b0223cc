"""The stream consumers' fast paths give what the general paths give: JSON layout decoder, raw RESP parsing."""

from __future__ import annotations

import hiredis
import numpy as np
import pytest

from warehouse.stream.produce import feed
from warehouse.demo.generate import DemoSpec
from warehouse.stream.decode import parse_messages
from warehouse.stream.resp_kernels import resp_bulk_args_nb, resp_entries_nb
from warehouse.stream.messages import Messages

_FIELD = np.frombuffer(b"tick", np.uint8)


def test_layout_decoder_gives_what_the_general_path_gives():
    spec = DemoSpec(ticks=20_000, duplicate_rate=0.05, correction_rate=0.01, seed=11, batch_rows=20_000)
    payloads = [p for chunk in feed(spec, 0.01) for p in chunk.payloads]
    payloads += [b'{"symbol":"A","ts":1704205800000000,"price":%s,"size":1,"side":"buy","trade_id":1,"version":0}' % p
                 for p in (b"0.1", b"1e2", b"1.5E-3", b"123456789012345", b"1234567890123456", b"0.30000000000000004",
                           b"-0", b"01", b"1.", b"2e-23", b"7e22")]
    payloads += [b'{"symbol":"\\u0041","ts":1704205800000000,"price":1,"size":1,"side":"buy","trade_id":2,"version":0}',
                 b'{"symbol":"B","ts":1704205800000000,"price":1,"size":1,"side":"BUY","trade_id":3,"version":0}',
                 b'{"symbol":"C","ts":1704205800000000,"price":1,"size":1,"side":"sell","trade_id":4,"version":4294967296}',
                 b'{"symbol":"D","ts":1704205800000,"price":1,"size":1,"side":"unknown","trade_id":5,"version":1}']
    positions = [f"p{i}" for i in range(len(payloads))]
    fast = parse_messages(Messages.of(payloads), positions, source="t")
    general = parse_messages([p + b" " for p in payloads], positions, source="t")  # a trailing space: not the layout
    assert fast.ticks.num_rows > 20_000
    assert fast.ticks.equals(general.ticks)
    assert fast.rejects["position"].equals(general.rejects["position"])


def _reply(entries: list[tuple[bytes, list[bytes] | None]], resp3: bool) -> bytes:
    def bulk(b: bytes) -> bytes:
        return b"$%d\r\n%s\r\n" % (len(b), b)
    out = (b"%1\r\n" if resp3 else b"*1\r\n*2\r\n") + bulk(b"s") + b"*%d\r\n" % len(entries)
    for entry_id, fields in entries:
        out += b"*2\r\n" + bulk(entry_id)
        out += (b"_\r\n" if resp3 else b"*-1\r\n") if fields is None else b"*%d\r\n" % len(fields) + b"".join(
            bulk(f) for f in fields)
    return out


def _parse(reply: bytes, step: int) -> tuple[int, list]:
    """Feed ``reply`` ``step`` bytes at a time, as a socket would deliver it."""
    buffer = np.frombuffer(reply, np.uint8)
    state = np.array([0, -1, 0], np.int64)
    slices = np.empty((4, 0), np.int64)
    received = 0
    while True:
        status = resp_entries_nb(buffer, received, state, *slices, _FIELD)
        if status == 2:
            slices = np.empty((4, int(state[1])), np.int64)
        elif status == 1:
            received = min(len(reply), received + step)
        else:
            break
    n = int(state[1]) if status == 0 else 0
    return status, [(reply[a:b], reply[c:d] if c >= 0 else None) for a, b, c, d in slices[:, :n].T]


@pytest.mark.parametrize("resp3", [False, True])
@pytest.mark.parametrize("step", [1, 7, 10_000])
def test_raw_xreadgroup_reply_parsed_in_pieces(resp3, step):
    entries = [(b"1-0", [b"tick", b'{"a":1}']), (b"2-0", None), (b"3-15", [b"tick", b""])]
    status, parsed = _parse(_reply(entries, resp3), step)
    assert status == 0
    assert parsed == [(b"1-0", b'{"a":1}'), (b"2-0", None), (b"3-15", b"")]


@pytest.mark.parametrize("reply", [b"-NOGROUP no such group\r\n", _reply([(b"1-0", [b"symbol", b"A"])], False),
                                   _reply([(b"1-0", [b"tick", b"x", b"size", b"1"])], True)])
def test_other_replies_are_left_to_hiredis(reply):
    assert _parse(reply, 3)[0] == 3


@pytest.mark.parametrize("reply", [b"_\r\n", b"*-1\r\n", _reply([], True)])
def test_no_entries(reply):
    assert _parse(reply, 1) == (0, [])


def test_xack_arguments_are_resp_bulk_strings():
    ids = Messages.of([b"1700000000000-0", b"1-1234567890"])
    args = resp_bulk_args_nb(ids.data, ids.starts, ids.ends).tobytes()
    reader = hiredis.Reader()
    reader.feed(b"*2\r\n" + args)
    assert reader.gets() == [b"1700000000000-0", b"1-1234567890"]
