"""OSCQuery: the namespace as HTTP JSON, so controllers can discover livegan's addresses.

``GET /`` returns the whole tree; ``GET /livegan/latent/speed`` one node;
``GET /livegan/latent/speed?VALUE`` one attribute; ``GET /?HOST_INFO`` the OSC port.
The HTTP server binds 127.0.0.1 by default. The zeroconf announcement (``_oscjson._tcp``)
sends multicast on every interface, so it is opt-in and needs the ``zeroconf`` package.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import LiveganError
from ..params.registry import ParamRegistry, ParamSpec
from .osc_namespace import has_norm, namespace_specs

log = logging.getLogger("livegan.oscquery")

_TYPE_TAGS = {"float": "f", "int": "i", "bool": "T", "enum": "s", "string": "s", "trigger": "N"}
ACCESS_NONE, ACCESS_READ, ACCESS_WRITE, ACCESS_RW = 0, 1, 2, 3
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "VALUE", "RANGE", "ACCESS", "DESCRIPTION", "UNIT", "CLIPMODE")


def _json_value(v: Any) -> Any:
    return v if isinstance(v, (bool, int, float, str)) or v is None else str(v)


def leaf(spec: ParamSpec, value: Any) -> dict[str, Any]:
    """One parameter's OSCQuery node."""
    node: dict[str, Any] = {"FULL_PATH": spec.address, "TYPE": _TYPE_TAGS[spec.type],
                            "DESCRIPTION": spec.description}
    if spec.type == "trigger":
        node["ACCESS"] = ACCESS_WRITE
        return node
    node["ACCESS"] = ACCESS_RW
    node["VALUE"] = [_json_value(value)]
    if spec.type in ("float", "int") and (spec.min is not None or spec.max is not None):
        node["RANGE"] = [{k: v for k, v in (("MIN", spec.min), ("MAX", spec.max)) if v is not None}]
        node["CLIPMODE"] = "none"  # out-of-range values are refused, not clipped
    elif spec.type == "enum":
        node["RANGE"] = [{"VALS": list(spec.choices)}]
    if spec.unit:
        node["UNIT"] = [spec.unit]
    if has_norm(spec):
        node["CONTENTS"] = {"norm": {"FULL_PATH": spec.address + "/norm", "TYPE": "f", "ACCESS": ACCESS_RW,
                                     "VALUE": [spec.normalise(value)], "RANGE": [{"MIN": 0.0, "MAX": 1.0}],
                                     "DESCRIPTION": f"{spec.name} as 0..1"}}
    return node


def build_tree(registry: ParamRegistry) -> dict[str, Any]:
    """The whole namespace as an OSCQuery tree, values as of now."""
    values = registry.peek().values
    root: dict[str, Any] = {"FULL_PATH": "/", "ACCESS": ACCESS_NONE, "CONTENTS": {}}
    for spec in namespace_specs(registry):
        parts = spec.address.strip("/").split("/")
        node = root
        for i, part in enumerate(parts[:-1]):
            node = node["CONTENTS"].setdefault(part, {"FULL_PATH": "/" + "/".join(parts[:i + 1]),
                                                      "ACCESS": ACCESS_NONE, "CONTENTS": {}})
        node.setdefault("CONTENTS", {})[parts[-1]] = leaf(spec, values.get(spec.name))
    return root


def find_node(tree: dict[str, Any], path: str) -> dict[str, Any] | None:
    node = tree
    for part in [p for p in path.split("/") if p]:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node


class OscQueryServer:
    """An HTTP server in a daemon thread answering OSCQuery requests for a registry."""

    def __init__(self, registry: ParamRegistry, osc_port: int, host: str = "127.0.0.1", port: int = 0,
                 name: str = "livegan", osc_host: str | None = None) -> None:
        self.registry = registry
        self.osc_port = osc_port
        self.osc_host = osc_host or host
        self.host = host
        self.requested_port = port
        self.name = name
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._zeroconf: Any = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self.requested_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def host_info(self) -> dict[str, Any]:
        return {"NAME": self.name, "OSC_IP": self.osc_host, "OSC_PORT": self.osc_port, "OSC_TRANSPORT": "UDP",
                "EXTENSIONS": {a: True for a in ATTRIBUTES}}

    def respond(self, raw_path: str) -> tuple[int, dict[str, Any] | None]:
        """(HTTP status, JSON body) for a request path; used by the handler and by tests."""
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), unquote(parts.query)
        if query == "HOST_INFO":
            return 200, self.host_info()
        node = find_node(build_tree(self.registry), path)
        if node is None:
            return 404, None
        if query:
            if query not in ATTRIBUTES or query not in node:
                return (204, None) if query in ATTRIBUTES else (400, None)
            return 200, {query: node[query]}
        return 200, node

    def start(self) -> "OscQueryServer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                try:
                    status, body = owner.respond(self.path)
                except Exception:  # never let a request take the thread down
                    log.exception("oscquery: error answering %s", self.path)
                    status, body = 500, None
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("oscquery: " + fmt, *args)

        try:
            self._httpd = ThreadingHTTPServer((self.host, self.requested_port), Handler)
        except OSError as exc:
            raise LiveganError(f"cannot serve OSCQuery on {self.host}:{self.requested_port} ({exc.strerror})") \
                from None
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="livegan-oscquery", daemon=True)
        self._thread.start()
        return self

    def announce(self) -> None:
        """Advertise over zeroconf (opt-in: it multicasts on every interface)."""
        try:
            import socket

            from zeroconf import ServiceInfo, Zeroconf
        except ImportError:
            raise LiveganError("OSCQuery announcement needs the 'zeroconf' package (pip install zeroconf)") \
                from None
        info = ServiceInfo("_oscjson._tcp.local.", f"{self.name}._oscjson._tcp.local.",
                           addresses=[socket.inet_aton(self.host)], port=self.port)
        self._zeroconf = Zeroconf()
        self._zeroconf.register_service(info)

    def stop(self) -> None:
        if self._zeroconf is not None:
            self._zeroconf.unregister_all_services()
            self._zeroconf.close()
            self._zeroconf = None
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=2.0)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "OscQueryServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
