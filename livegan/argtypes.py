"""argparse types for network addresses: a bad value is refused while parsing, in one line.

A port or host that only fails when a receiver process binds it would surface as that
process's traceback; checked here, it is ``livegan live: error: argument --osc-port: ...``.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket


def _port(text: str, lowest: int, what: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not lowest <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number ({what})")
    return port


def port_number(text: str) -> int:
    """A UDP/TCP port to listen on or send to: 1..65535."""
    return _port(text, 1, "1 to 65535")


def listen_port(text: str) -> int:
    """A port to listen on, 0 for any free one (the server says which it got)."""
    return _port(text, 0, "0 for any free one, or 1 to 65535")


def host_address(text: str) -> str:
    """An IP address, or a host name this machine resolves (e.g. localhost)."""
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    try:
        socket.getaddrinfo(text, None, proto=socket.IPPROTO_UDP)
    except (socket.gaierror, UnicodeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address or a host name this machine knows") from None
    return text
