"""A strict OSC 1.0 packet parser and a small encoder.

python-osc's parser accepts some malformed datagrams and hands made-up arguments to
handlers (``,f`` with no data becomes ``0.0``). The control surface must never act on a
value nobody sent, so incoming packets are parsed here: anything truncated, misaligned,
with an unknown type tag or trailing bytes raises ``OscParseError`` and is dropped whole.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

NTP_DELTA = 2208988800  # seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch)
IMMEDIATE = 0.0  # the timetag 0x0000000000000001 ("now") becomes this
MAX_BUNDLE_DEPTH = 8
MAX_ARGS = 64
_FIXED = {"i": struct.Struct(">i"), "f": struct.Struct(">f"), "h": struct.Struct(">q"), "d": struct.Struct(">d")}


class _Impulse:
    """OSC 1.0's ``I`` tag: a bang with no value (only triggers accept it)."""

    def __repr__(self) -> str:
        return "IMPULSE"

    def __reduce__(self) -> str:
        return "IMPULSE"  # unpickles as this module's singleton, so ``is IMPULSE`` holds across processes


IMPULSE = _Impulse()


class OscParseError(ValueError):
    """A datagram that is not well-formed OSC."""


@dataclass(frozen=True)
class OscMessage:
    address: str
    args: tuple[Any, ...]
    tags: str  # the type tags without the leading comma, e.g. "fi"


@dataclass(frozen=True)
class TimedMessage:
    """A message and the Unix time it should take effect at (``IMMEDIATE`` = now)."""

    message: OscMessage
    when: float


def _read_string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        raise OscParseError("unterminated string")
    nxt = (end + 4) & ~3  # the terminator plus padding to a multiple of 4
    if nxt > len(data) or any(data[end:nxt]):
        raise OscParseError("bad string padding")
    try:
        return data[pos:end].decode("utf-8"), nxt
    except UnicodeDecodeError:
        raise OscParseError("string is not UTF-8") from None


def _need(data: bytes, pos: int, n: int) -> None:
    if pos + n > len(data):
        raise OscParseError("truncated argument")


def parse_message(data: bytes) -> OscMessage:
    if not data.startswith(b"/"):
        raise OscParseError("address does not start with '/'")
    if len(data) % 4:
        raise OscParseError("length is not a multiple of 4")
    address, pos = _read_string(data, 0)
    if pos >= len(data):
        tags = ""  # OSC 1.0 lets old senders omit the type tag string when there are no arguments
    else:
        if data[pos:pos + 1] != b",":
            raise OscParseError("type tag string does not start with ','")
        tagstr, pos = _read_string(data, pos)
        tags = tagstr[1:]
    if len(tags) > MAX_ARGS:
        raise OscParseError("too many arguments")
    args: list[Any] = []
    for t in tags:
        fixed = _FIXED.get(t)
        if fixed is not None:
            _need(data, pos, fixed.size)
            v = fixed.unpack_from(data, pos)[0]
            # A float32 as the shortest decimal that is it (0.3, not 0.30000001192092896).
            args.append(float(str(np.float32(v))) if t == "f" else v)
            pos += fixed.size
        elif t in "sS":
            s, pos = _read_string(data, pos)
            args.append(s)
        elif t == "b":
            _need(data, pos, 4)
            n = struct.unpack_from(">i", data, pos)[0]
            pos += 4
            if n < 0:
                raise OscParseError("negative blob size")
            padded = (n + 3) & ~3
            _need(data, pos, padded)
            args.append(bytes(data[pos:pos + n]))
            pos += padded
        elif t == "T":
            args.append(True)
        elif t == "F":
            args.append(False)
        elif t == "N":
            args.append(None)
        elif t == "I":
            args.append(IMPULSE)
        else:
            raise OscParseError(f"unsupported type tag {t!r}")
    if pos != len(data):
        raise OscParseError("trailing bytes after the arguments")
    return OscMessage(address, tuple(args), tags)


def _timetag_to_unix(raw: int) -> float:
    if raw == 1:
        return IMMEDIATE
    return (raw >> 32) - NTP_DELTA + (raw & 0xFFFFFFFF) / 2**32


def unix_to_timetag(t: float) -> int:
    if t == IMMEDIATE:
        return 1
    secs = t + NTP_DELTA
    whole = int(secs)
    return (whole << 32) | int((secs - whole) * 2**32)


def parse_packet(data: bytes, outer_when: float = IMMEDIATE, depth: int = 0) -> list[TimedMessage]:
    """Every message in a datagram (a message or a possibly nested bundle), in order."""
    if data.startswith(b"#bundle\0"):
        if depth >= MAX_BUNDLE_DEPTH:
            raise OscParseError("bundles nested too deep")
        if len(data) < 16:
            raise OscParseError("truncated bundle header")
        when = _timetag_to_unix(struct.unpack_from(">Q", data, 8)[0])
        # A nested bundle may not be scheduled before the bundle that holds it.
        when = max(when, outer_when) if when != IMMEDIATE else outer_when
        pos = 16
        out: list[TimedMessage] = []
        while pos < len(data):
            _need(data, pos, 4)
            size = struct.unpack_from(">i", data, pos)[0]
            pos += 4
            if size <= 0 or size % 4 or pos + size > len(data):
                raise OscParseError("bad bundle element size")
            out.extend(parse_packet(data[pos:pos + size], when, depth + 1))
            pos += size
        return out
    return [TimedMessage(parse_message(data), outer_when)]


# ---- encoding (OSC out and replies) ---------------------------------------------------

def _pad_string(s: str) -> bytes:
    b = s.encode("utf-8") + b"\0"
    return b + b"\0" * (-len(b) % 4)


def encode_message(address: str, args: Iterable[Any] = ()) -> bytes:
    """Encode a message; Python bool -> T/F, int -> i (or h if large), float -> f, str -> s, None -> N."""
    tags = ","
    body = b""
    for a in args:
        if a is True:
            tags += "T"
        elif a is False:
            tags += "F"
        elif a is None:
            tags += "N"
        elif a is IMPULSE:
            tags += "I"
        elif isinstance(a, int):
            if -2**31 <= a < 2**31:
                tags += "i"
                body += struct.pack(">i", a)
            else:
                tags += "h"
                body += struct.pack(">q", a)
        elif isinstance(a, float):
            tags += "f"
            body += struct.pack(">f", a)
        elif isinstance(a, str):
            tags += "s"
            body += _pad_string(a)
        elif isinstance(a, (bytes, bytearray)):
            tags += "b"
            body += struct.pack(">i", len(a)) + bytes(a) + b"\0" * (-len(a) % 4)
        else:
            raise TypeError(f"cannot send {type(a).__name__} over OSC")
    return _pad_string(address) + _pad_string(tags) + body


def encode_bundle(elements: Iterable[bytes], when: float = IMMEDIATE) -> bytes:
    out = b"#bundle\0" + struct.pack(">Q", unix_to_timetag(when))
    for e in elements:
        out += struct.pack(">i", len(e)) + e
    return out
