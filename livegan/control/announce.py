"""Zeroconf: announce the OSCQuery server as ``_oscjson._tcp`` (opt-in: it multicasts on every interface)."""

from __future__ import annotations

import socket
from typing import Any

from ..errors import LiveganError

SERVICE = "_oscjson._tcp.local."


class Announcement:
    def __init__(self, name: str, host: str, port: int) -> None:
        self.name, self.host, self.port = name, host, port
        self._zeroconf: Any = None

    def start(self) -> "Announcement":
        try:
            from zeroconf import ServiceInfo, Zeroconf  # noqa: PLC0415
        except ImportError:
            raise LiveganError("--oscquery-announce needs the 'zeroconf' package (pip install zeroconf)") from None
        host = self.host if self.host not in ("0.0.0.0", "") else socket.gethostbyname(socket.gethostname())
        info = ServiceInfo(SERVICE, f"{self.name}.{SERVICE}", addresses=[socket.inet_aton(host)], port=self.port,
                           server=f"{socket.gethostname()}.local.")
        try:
            self._zeroconf = Zeroconf()
            self._zeroconf.register_service(info)
        except Exception as exc:  # no multicast route, a busy port 5353 ...: the show goes on without it
            self.stop()
            raise LiveganError(f"cannot announce OSCQuery over zeroconf ({exc})") from None
        return self

    def stop(self) -> None:
        if self._zeroconf is not None:
            try:
                self._zeroconf.unregister_all_services()
            finally:
                self._zeroconf.close()
                self._zeroconf = None
