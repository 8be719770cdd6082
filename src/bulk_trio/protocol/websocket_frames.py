"""Sans-IO WebSocket frame reading for the client: the bytes a server sends, split into messages.

The transport (shell/transport.py) feeds every read to a :class:`FrameReader` and acts on what it
returns; nothing here does I/O. Why not wsproto's parser: it builds a chain of generators, a buffer
object, a namedtuple and an event object per frame, ~6 us of the ~15 us the client spent per
market-data frame (benchmarks/bench_client.py). This reader applies the same RFC 6455 checks in
one loop over the bytes of a read. A violation is a
:class:`~bulk_trio.errors.ProtocolViolation` whose ``close_code`` is the code the connection must
be failed with (RFC 6455 section 7.1.7).
"""

from __future__ import annotations

from ..errors import ProtocolViolation

# RFC 6455 close codes the client uses or must refuse.
PROTOCOL_ERROR = 1002
NO_STATUS = 1005
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009
# Codes below 3000 a peer may send: those RFC 6455 defines (or IANA registered) for the wire.
# 1005, 1006 and 1015 only describe a close locally; the rest of 1000-2999 is reserved.
_PEER_PROTOCOL_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013})

# Opcodes (RFC 6455, section 5.2).
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_UNFRAGMENTED_TEXT = 0x80 | TEXT  # FIN set, no reserved bits: nearly every frame the server sends


Control = tuple[int, bytes]
"""A control frame the reader passes on: (opcode, payload)."""


class FrameReader:
    """Sans-IO: turns the bytes a server sends into text messages and control frames.

    It checks what wsproto checks on a client: no mask, no reserved bits (no extension is ever
    negotiated), known opcodes, control frames unfragmented and at most 125 bytes, minimal length
    encodings, continuation frames only inside a fragmented message, UTF-8 text, and well-formed
    close frames. Messages are limited to ``max_message_size`` bytes, checked from the frame
    headers, before the payload is buffered.
    """

    __slots__ = (
        "_buffer",
        "_closed",
        "_fragment_opcode",
        "_fragment_size",
        "_fragments",
        "_max_message_size",
        "_needed",
    )

    def __init__(self, max_message_size: int) -> None:
        self._max_message_size = max_message_size
        self._buffer = bytearray()  # the incomplete frame a read ended in
        self._needed = 0  # how long _buffer must grow before parsing it again is worthwhile
        self._fragments: list[bytes] = []
        self._fragment_opcode: int | None = None
        self._fragment_size = 0
        self._closed = False

    def feed(self, data: bytes | bytearray, messages: list[str]) -> list[Control] | None:
        """Append every text message ``data`` completes to ``messages``; return the control
        frames it held, in order (parsing stops at a close frame), or None if there were none.

        Raises :class:`~bulk_trio.errors.ProtocolViolation` for a protocol error, a message over
        the size limit included; its ``close_code`` is the code to fail the connection with.
        """
        if self._closed:
            return None  # after a close frame the peer must not send anything; ignore it
        buffer: bytes | bytearray = data
        if self._buffer:
            self._buffer += data
            if len(self._buffer) < self._needed:
                return None
            buffer = self._buffer
        controls: list[Control] | None = None
        end = len(buffer)
        position = 0
        while end - position >= 2:
            first = buffer[position]
            length = buffer[position + 1]
            start = position + 2
            if length >= 126:  # the mask bit (0x80) included: a server must not mask
                start, length = self._long_length(buffer, position)
                if start == 0:
                    self._needed = 10  # the longest header
                    break
            stop = start + length
            if first == _UNFRAGMENTED_TEXT and self._fragment_opcode is None:
                # The hot path: one whole text frame.
                if length > self._max_message_size:
                    raise _too_big(self._max_message_size)
                if stop > end:
                    self._needed = stop - position
                    break
                try:
                    messages.append(buffer[start:stop].decode())
                except UnicodeDecodeError as exc:
                    reason = f"invalid UTF-8 in a text message: {exc}"
                    raise ProtocolViolation(reason, INVALID_PAYLOAD) from None
                position = stop
                continue
            opcode = self._check_header(first, length)
            if stop > end:
                self._needed = stop - position
                break
            payload = bytes(buffer[start:stop])
            position = stop
            if opcode >= CLOSE:
                if controls is None:
                    controls = []
                controls.append((opcode, payload))
                if opcode == CLOSE:
                    self._closed = True
                    break
            else:
                self._data_frame(opcode, first & 0x80, payload, messages)
        else:
            self._needed = 0
        self._keep(buffer, position)
        return controls

    def _keep(self, buffer: bytes | bytearray, position: int) -> None:
        """Hold on to the unparsed tail of ``buffer`` for the next read."""
        if buffer is self._buffer:
            del self._buffer[:position]
        elif position < len(buffer):
            self._buffer = bytearray(buffer[position:])

    @staticmethod
    def _long_length(buffer: bytes | bytearray, position: int) -> tuple[int, int]:
        """(payload start, payload length) of a frame with a 16- or 64-bit length, or (0, 0) when
        the length is not complete yet."""
        short = buffer[position + 1]
        if short & 0x80:
            raise ProtocolViolation("the server sent a masked frame")
        if short == 126:
            start = position + 4
            if len(buffer) < start:
                return 0, 0
            length = int.from_bytes(buffer[position + 2 : start], "big")
            if length <= 125:
                raise ProtocolViolation("payload length used 2 bytes when 1 would have sufficed")
        else:
            start = position + 10
            if len(buffer) < start:
                return 0, 0
            length = int.from_bytes(buffer[position + 2 : start], "big")
            if length <= 0xFFFF:
                raise ProtocolViolation("payload length used 8 bytes when 2 would have sufficed")
            if length >> 63:
                raise ProtocolViolation("8-byte payload length with non-zero most significant bit")
        return start, length

    def _check_header(self, first: int, length: int) -> int:
        """The opcode of a frame off the hot path, after the header checks that apply to it."""
        if first & 0x70:
            raise ProtocolViolation("reserved bit set, but no extension was negotiated")
        opcode = first & 0x0F
        if opcode >= CLOSE:
            if opcode > PONG:
                raise ProtocolViolation(f"invalid opcode {opcode:#x}")
            if not first & 0x80:
                raise ProtocolViolation("fragmented control frame")
            if length > 125:
                raise ProtocolViolation("control frame with payload length > 125")
            return opcode
        if opcode > BINARY:
            raise ProtocolViolation(f"invalid opcode {opcode:#x}")
        if opcode == CONTINUATION:
            if self._fragment_opcode is None:
                raise ProtocolViolation("unexpected continuation frame")
        elif self._fragment_opcode is not None:
            raise ProtocolViolation("expected a continuation frame, got a new message")
        if self._fragment_size + length > self._max_message_size:
            raise _too_big(self._max_message_size)
        return opcode

    def _data_frame(self, opcode: int, fin: int, payload: bytes, messages: list[str]) -> None:
        """A fragment, or a whole binary message (BULK sends text only: binary is dropped)."""
        if opcode != CONTINUATION:
            self._fragment_opcode = opcode
        self._fragments.append(payload)
        self._fragment_size += len(payload)
        if not fin:
            return
        whole = b"".join(self._fragments)
        text = self._fragment_opcode == TEXT
        self._fragments.clear()
        self._fragment_size = 0
        self._fragment_opcode = None
        if text:
            try:
                messages.append(whole.decode())
            except UnicodeDecodeError as exc:
                raise ProtocolViolation(
                    f"invalid UTF-8 in a text message: {exc}", INVALID_PAYLOAD
                ) from None


def _too_big(limit: int) -> ProtocolViolation:
    return ProtocolViolation(
        f"message larger than max_message_size ({limit} bytes)", MESSAGE_TOO_BIG
    )


def close_code_and_reason(payload: bytes) -> tuple[int, str]:
    """The (code, reason) of a close frame's payload (RFC 6455, sections 5.5.1 and 7.4)."""
    if not payload:
        return NO_STATUS, ""
    if len(payload) == 1:
        raise ProtocolViolation("close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if code < 1000 or code > 4999:
        raise ProtocolViolation(f"close frame with invalid code {code}")
    if code < 3000 and code not in _PEER_PROTOCOL_CODES:
        why = "a local-only" if code in (NO_STATUS, 1006, 1015) else "a reserved"
        raise ProtocolViolation(f"close frame with {why} code {code}")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError as exc:
        raise ProtocolViolation(
            f"invalid UTF-8 in a close reason: {exc}", INVALID_PAYLOAD
        ) from None
