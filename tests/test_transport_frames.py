"""The transport's own frame reader: what it accepts, what it refuses, and how a refusal ends it.

The reader (a sans-IO core module, bulk_trio.protocol.websocket_frames) replaced wsproto's parser
on the receive path; these pin the RFC 6455 checks it must keep making, byte for byte as a server
would send them, and what the transport does with them.
"""

from __future__ import annotations

import socket
import struct
from functools import partial

import pytest
import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.frame_protocol import FrameProtocol

from bulk_trio.errors import ConnectError, ProtocolViolation
from bulk_trio.protocol.websocket_frames import FrameReader, close_code_and_reason
from bulk_trio.shell.transport import TransportClosed, handshake, open_transport


def frame(payload: bytes, *, opcode: int = 1, fin: bool = True, first: int | None = None) -> bytes:
    """A server frame (unmasked) with the shortest length encoding unless ``first`` is forced."""
    head = first if first is not None else (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        return bytes([head, len(payload)]) + payload
    if len(payload) <= 0xFFFF:
        return bytes([head, 126]) + struct.pack("!H", len(payload)) + payload
    return bytes([head, 127]) + struct.pack("!Q", len(payload)) + payload


def read(*chunks: bytes, limit: int = 1 << 20) -> tuple[list[str], list[tuple[int, bytes]]]:
    reader = FrameReader(limit)
    messages: list[str] = []
    controls: list[tuple[int, bytes]] = []
    for chunk in chunks:
        controls += reader.feed(chunk, messages) or []
    return messages, controls


def test_messages_split_anywhere_across_reads_come_out_whole() -> None:
    texts = ["{}", "é" * 100, "x" * 300, "y" * 70_000]
    wire = b"".join(frame(text.encode()) for text in texts)
    for cut in (1, 2, 3, 5, 131, len(wire) - 1):
        assert read(wire[:cut], wire[cut:])[0] == texts
    assert read(*[wire[i : i + 7] for i in range(0, len(wire), 7)])[0] == texts


def test_fragments_are_joined_and_control_frames_may_come_between_them() -> None:
    wire = (
        frame(b"he", fin=False)
        + frame(b"p1", opcode=0x9)
        + frame("llo é".encode()[:6], opcode=0, fin=False)
        + frame("llo é".encode()[6:], opcode=0)
    )
    assert read(wire) == (["hello é"], [(0x9, b"p1")])


def test_binary_messages_are_dropped_and_pongs_passed_on() -> None:
    wire = frame(b"\x00\x01", opcode=0x2) + frame(b"k", opcode=0xA) + frame(b"t")
    assert read(wire) == (["t"], [(0xA, b"k")])


def test_nothing_after_a_close_frame_is_read() -> None:
    close = frame(struct.pack("!H", 1001) + b"bye", opcode=0x8)
    messages, controls = read(frame(b"a") + close + frame(b"late"), frame(b"later"))
    assert messages == ["a"]
    assert controls == [(0x8, struct.pack("!H", 1001) + b"bye")]


@pytest.mark.parametrize(
    ("wire", "reason", "code"),
    [
        (frame(b"x", first=0xC1), "reserved bit", 1002),
        (frame(b"x", first=0x83), "invalid opcode", 1002),
        (frame(b"x", first=0x8B), "invalid opcode", 1002),
        (frame(b"x", opcode=0x9, fin=False), "fragmented control", 1002),
        (frame(b"x" * 126, opcode=0x9), "control frame with payload length", 1002),
        (frame(b"x", opcode=0), "unexpected continuation", 1002),
        (frame(b"a", fin=False) + frame(b"b"), "expected a continuation", 1002),
        (bytes([0x81, 0x81, 1, 2, 3, 4, 0x79]), "masked", 1002),
        (bytes([0x81, 126, 0, 5]) + b"x" * 5, "2 bytes when 1", 1002),
        (bytes([0x81, 127]) + struct.pack("!Q", 300) + b"x" * 300, "8 bytes when 2", 1002),
        (frame(b"\xc3\x28"), "invalid UTF-8", 1007),
        (frame(b"a\xff", fin=False) + frame(b"b", opcode=0), "invalid UTF-8", 1007),
    ],
)
def test_protocol_violations_are_refused_with_their_close_code(
    wire: bytes, reason: str, code: int
) -> None:
    with pytest.raises(ProtocolViolation, match=reason) as refused:
        read(wire)
    assert refused.value.close_code == code


def test_the_size_limit_is_checked_before_the_payload_arrives() -> None:
    header_only = bytes([0x81, 127]) + struct.pack("!Q", 1 << 40)
    with pytest.raises(ProtocolViolation, match="max_message_size") as refused:
        read(header_only, limit=1000)
    assert refused.value.close_code == 1009
    with pytest.raises(ProtocolViolation, match="max_message_size"):
        read(frame(b"a" * 600, fin=False) + frame(b"b" * 600, opcode=0), limit=1000)


async def serve_handshake(
    server_end: trio.testing.MemoryStream | trio.abc.Stream, after_accept: bytes
) -> WSConnection:
    ws = WSConnection(ConnectionType.SERVER)
    ws.receive_data(await server_end.receive_some(65536))
    for event in ws.events():
        if isinstance(event, Request):
            await server_end.send_all(ws.send(AcceptConnection()) + after_accept)
    return ws


async def test_frames_sent_with_the_handshake_response_are_not_lost() -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    framer = FrameProtocol(client=False, extensions=[])
    early = bytes(framer.send_data("first", True) + framer.ping(b"p"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_handshake, server_end, early)
        transport = await handshake(client_end, "fake")
    assert await transport.receive_batch() == ["first"]
    answer = await server_end.receive_some(65536)
    assert answer[0] == 0x8A  # the early ping was answered: a pong, FIN set


async def test_a_violation_closes_with_its_code_and_ends_the_transport() -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_handshake, server_end, b"")
        transport = await handshake(client_end, "fake")
    await server_end.send_all(frame(b"\xff"))
    with pytest.raises(TransportClosed, match="protocol error") as closed:
        await transport.receive_batch()
    assert closed.value.code == 1007 and transport.closed
    close = await server_end.receive_some(65536)
    assert close[0] == 0x88  # the client failed the connection with a close frame


async def test_a_ping_is_answered_with_its_payload() -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_handshake, server_end, b"")
        transport = await handshake(client_end, "fake")
    await server_end.send_all(frame(b"hb", opcode=0x9) + frame(b"after"))
    assert await transport.receive_batch() == ["after"]
    pong = await server_end.receive_some(65536)
    assert pong[0] == 0x8A and pong[1] == 0x80 | 2  # masked, two bytes of payload
    mask, body = pong[2:6], pong[6:8]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == b"hb"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x03", "1-byte payload"),
        (struct.pack("!H", 999), "invalid code 999"),
        (struct.pack("!H", 5000), "invalid code 5000"),
        (struct.pack("!H", 1005), "local-only code 1005"),
        (struct.pack("!H", 1004), "reserved code 1004"),
        (struct.pack("!H", 2999), "reserved code 2999"),
        (struct.pack("!H", 1000) + b"\xff", "invalid UTF-8"),
    ],
)
def test_bad_close_frames_are_violations(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolViolation, match=reason):
        close_code_and_reason(payload)


def test_good_close_frames_give_their_code_and_reason() -> None:
    assert close_code_and_reason(b"") == (1005, "")
    assert close_code_and_reason(struct.pack("!H", 1001) + "bye é".encode()) == (1001, "bye é")
    assert close_code_and_reason(struct.pack("!H", 4000)) == (4000, "")


async def test_messages_read_together_with_a_close_frame_are_delivered_first() -> None:
    # A post reply followed at once by a close: the reply must reach the client, then the close.
    client_end, server_end = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_handshake, server_end, b"")
        transport = await handshake(client_end, "fake")
    close = frame(struct.pack("!H", 1001) + b"bye", opcode=0x8)
    await server_end.send_all(frame(b'{"type":"post","id":1}') + close)
    assert await transport.receive_batch() == ['{"type":"post","id":1}']
    with pytest.raises(TransportClosed, match="code 1001") as closed:
        await transport.receive_batch()
    assert closed.value.code == 1001


async def test_messages_read_together_with_a_violation_are_delivered_first() -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_handshake, server_end, b"")
        transport = await handshake(client_end, "fake")
    await server_end.send_all(frame(b"kept") + frame(b"\xff"))
    assert await transport.receive_batch() == ["kept"]
    with pytest.raises(TransportClosed, match="protocol error"):
        await transport.receive_batch()


# -- handshake failures, resets and broken sends ---------------------------------------------


async def answer_handshake_with(server_end: trio.abc.Stream, answer: bytes) -> None:
    await server_end.receive_some(65536)  # the client's upgrade request
    if answer:
        await server_end.send_all(answer)
    await server_end.aclose()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n", "HTTP 503"),
        (b"", "closed the connection during the WebSocket handshake"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "did not answer as a WebSocket server"),
    ],
)
async def test_a_failed_handshake_is_a_connect_error_naming_why(answer: bytes, reason: str) -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer_handshake_with, server_end, answer)
            with pytest.raises(ConnectError, match=reason):
                await handshake(client_end, "fake")


async def test_a_connection_reset_ends_the_transport_with_the_reason() -> None:
    # A real TCP reset (SO_LINGER 0), as a crashed exchange or a middlebox would send.
    async def reset_after_handshake(stream: trio.SocketStream) -> None:
        await serve_handshake(stream, b"")
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_tcp, reset_after_handshake, 0, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]
        with trio.fail_after(5):
            transport = await open_transport(f"ws://127.0.0.1:{port}")
            with pytest.raises(TransportClosed, match=r"connection broken|without a close frame"):
                await transport.receive_batch()
        assert transport.closed
        nursery.cancel_scope.cancel()


class BreaksMidFrame(trio.abc.Stream):
    """Passes reads through; the first write gets half its bytes out, then the socket breaks."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.written = bytearray()
        self.broken = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.broken:
            raise trio.BrokenResourceError("the socket is gone")
        if not self.written and len(data) > 100:  # the handshake request went out whole
            self.written += bytes(data)[: len(data) // 2]
            self.broken = True
            raise trio.BrokenResourceError("connection reset by peer")
        self.written += bytes(data)
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_send_failing_mid_frame_ends_the_transport_and_sends_nothing_more() -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_handshake, server_end, b"")
        transport = await handshake(client_end, "fake")
    breaking = BreaksMidFrame(client_end)
    transport._stream = breaking  # the socket under an open transport starts failing
    breaking.written.clear()
    with pytest.raises(TransportClosed, match="broken while sending"):
        await transport.send_text("x" * 500)
    assert transport.closed
    written = len(breaking.written)
    # Half a frame is on the wire: nothing may follow it (no close frame, no next message).
    with pytest.raises(TransportClosed, match="already closed"):
        await transport.send_text("next")
    await transport.aclose()
    assert len(breaking.written) == written
