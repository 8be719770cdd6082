"""WebSocket framing the simulator's server does itself: a data frame is encoded once, however
many subscribers get it (RFC 6455 section 5.2)."""

from __future__ import annotations

import struct


def encode_text_frame(text: str) -> bytes:
    """One unmasked, unfragmented WebSocket text frame, as a server sends it."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload
