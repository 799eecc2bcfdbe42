"""OSCQuery over HTTP/1.1 and its WebSocket on one port, and the web remote for browsers.

The ``websockets`` library runs both on one asyncio loop in a thread of its own: a request
with ``Upgrade: websocket`` becomes a WebSocket; any other request is answered here
(``GET``/``HEAD`` of a node or ``?ATTRIBUTE``, ``?HOST_INFO``, ``OPTIONS`` with CORS; one
request per connection). ``GET /`` for a browser (``Accept: text/html``, or ``?HTML``)
serves the web remote, ``/preview.jpg`` the picture's thumbnail.

On the WebSocket (OSCQuery's optional bi-directional part): text messages
``{"COMMAND": "LISTEN"|"IGNORE", "DATA": "/address"}`` start and stop the stream of an
address's values (parameter changes, coalesced every ``FLUSH_S``; feature outputs at the
feedback rate), sent as binary OSC packets (what one flush has for a client goes as one bundle:
one WebSocket frame, not one per address); binary OSC packets from the client are
applied like UDP OSC (same dispatcher; errors come back as ``/livegan/error``).
``PATH_CHANGED`` is sent when parameters come or go.

Who may write: with a ``token`` (any ``--http-host`` other than 127.0.0.1) only clients
that bring it (``?token=``, cookie or ``Authorization: Bearer``); without one, any client
that is not a web page from another origin (so a site open in the same browser cannot
drive the show). Reading the tree, HOST_INFO and LISTEN are open to all.
"""

from __future__ import annotations

import asyncio
import email.utils
import hmac
import io
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Hashable
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..errors import LiveganError
from ..params.registry import ParamChange, ParamRegistry
from .feature_out import OUT_PREFIX, OUTPUT_BY_ADDRESS
from .osc_dispatch import Dispatcher
from .osc_namespace import has_norm, norm_address
from .osc_packet import OscParseError, encode_bundle, encode_message, parse_packet
from .osc_validate import MALFORMED, NOT_ALLOWED
from .oscquery import attribute, build_tree, find_node, host_info
from .triggers import ControlActions
from .web_remote import render_page

log = logging.getLogger("livegan.oscquery")
_ws_log = logging.getLogger("livegan.oscquery.ws")
_ws_log.setLevel(logging.WARNING)  # websockets logs every connection at INFO

FLUSH_S = 0.02  # parameter changes reach listeners at most this late (and at most 50 times a second)
MAX_PENDING = 64  # sends queued for a slow client before further ones are dropped
CORS = (("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
        ("Access-Control-Allow-Headers", "Authorization, Content-Type"), ("Access-Control-Max-Age", "600"))


@dataclass(eq=False)
class Client:
    ws: ServerConnection
    write: bool
    listen: set[str] = field(default_factory=set)
    pending: int = 0

    @property
    def key(self) -> Hashable:
        return id(self)


class WsOrigin:
    """A WebSocket client as the dispatcher's reply target (replies are binary OSC)."""

    __slots__ = ("server", "client", "key")

    def __init__(self, server: "QueryServer", client: Client) -> None:
        self.server, self.client, self.key = server, client, client.key

    def send(self, address: str, args: tuple[Any, ...]) -> None:
        self.server._push(self.client, encode_message(address, args))


def _response(status: int, body: bytes = b"", content_type: str = "application/json", head: bool = False,
              extra: tuple[tuple[str, str], ...] = ()) -> Response:
    headers = Headers([("Date", email.utils.formatdate(usegmt=True)), ("Connection", "close"), *extra])
    if status != HTTPStatus.NO_CONTENT:
        headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
    return Response(status, HTTPStatus(status).phrase, headers, b"" if head or status == 204 else body)


class QueryServer:
    """Serves one registry; ``start`` binds (LiveganError if it cannot), ``stop`` closes every client."""

    def __init__(self, registry: ParamRegistry, actions: ControlActions | None = None, host: str = "127.0.0.1",
                 port: int = 0, osc: Callable[[], tuple[str | None, int | None]] = lambda: (None, None),
                 token: str | None = None, levels: Callable[[], dict[str, tuple[Any, ...]]] = dict,
                 preview: Callable[[], bytes | None] = lambda: None, presets: Callable[[], list[str]] = list,
                 name: str = "livegan") -> None:
        self.registry = registry
        self.dispatcher = Dispatcher(registry, actions, source="web")
        self.host = host
        self.requested_port = port
        self.osc = osc
        self.token = token
        self.levels = levels
        self.preview = preview
        self.presets = presets
        self.name = name
        self.clients: set[Client] = set()
        self.requests = 0
        self.cpu_s = 0.0  # CPU time of its loop thread (benchmarks, the log at the end)
        self._port = 0
        self._lock = threading.Lock()
        self._dirty: dict[str, Any] = {}
        self._flush_due = False
        self._features: list[tuple[str, tuple[Any, ...]]] = []
        self._events: list[tuple[str, tuple[Any, ...]]] = []
        self._features_due = False
        self._listening_out = 0  # clients listening to at least one feature output
        self._names_version = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def port(self) -> int:
        return self._port or self.requested_port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/"

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> "QueryServer":
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(ready, failure), name="livegan-oscquery", daemon=True)
        self._thread.start()
        if not ready.wait(20.0):
            failure.append(LiveganError("the OSCQuery server did not start"))
        if failure:
            self.stop()
            exc = failure[0]
            if isinstance(exc, OSError):
                raise LiveganError(f"cannot serve OSCQuery on {self.host}:{self.requested_port} ({exc.strerror})") \
                    from None
            raise exc
        self._names_version = self.dispatcher.namespace.version
        self._unsubscribe = self.registry.subscribe(self._on_change)
        return self

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def main() -> None:
            self._stopped = asyncio.Event()
            try:
                server = await serve(self._handler, self.host, self.requested_port, process_request=self._http,
                                     max_size=1 << 16, compression=None, logger=_ws_log, server_header="livegan")
            except OSError as exc:
                failure.append(exc)
                ready.set()
                return
            self._port = server.sockets[0].getsockname()[1]
            ready.set()
            loop.call_later(1.0, self._watch_paths)
            await self._stopped.wait()
            server.close()
            await server.wait_closed()
            self.cpu_s = time.thread_time()

        try:
            loop.run_until_complete(main())
        except Exception as exc:  # noqa: BLE001 - reported to start(), or logged
            if not ready.is_set():
                failure.append(exc)
                ready.set()
            else:
                log.exception("oscquery: the server stopped")
        finally:
            loop.close()

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopped.set)
            except RuntimeError:
                pass  # the loop just closed
        if self._thread:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self) -> "QueryServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- HTTP ----------------------------------------------------------------------
    def _token_ok(self, request: Request, query: dict[str, list[str]]) -> bool:
        if self.token is None:
            return True
        given = query.get("token", [""])[0]
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = given or auth[7:]
        for part in request.headers.get("Cookie", "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "livegan_token":
                given = given or v
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _may_write(self, request: Request) -> bool:
        query = parse_qs(urlsplit(request.path).query)
        if self.token is not None:
            return self._token_ok(request, query)
        origin = request.headers.get("Origin")
        return origin is None or origin == f"http://{request.headers.get('Host', '')}"

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests += 1
        method = request.method
        if method == "GET" and "websocket" in request.headers.get("Upgrade", "").lower():
            return None  # the WebSocket handshake goes on
        try:
            return self.respond(method, request)
        except Exception:  # never let a request take the server down
            log.exception("oscquery: error answering %s %s", method, request.path)
            return _response(500, b"internal error\n", "text/plain; charset=utf-8")

    def respond(self, method: str, request: Request) -> Response:
        if method == "OPTIONS":
            return _response(204, extra=(("Allow", "GET, HEAD, OPTIONS"), *CORS))
        if method not in ("GET", "HEAD"):
            return _response(405, b"only GET, HEAD and OPTIONS\n", "text/plain; charset=utf-8",
                             extra=(("Allow", "GET, HEAD, OPTIONS"),))
        head = method == "HEAD"
        parts = urlsplit(request.path)
        path, raw_query = unquote(parts.path), unquote(parts.query)
        query = parse_qs(parts.query)
        attr = raw_query if raw_query and "=" not in raw_query else ""
        if path == "/preview.jpg":
            if not self._token_ok(request, query):
                return self._unauthorised(head)
            picture = self.preview()
            if picture is None:
                return _response(404, b"no picture yet\n", "text/plain; charset=utf-8", head)
            return _response(200, picture, "image/jpeg", head, (("Cache-Control", "no-store"),))
        wants_html = attr == "HTML" or (path == "/" and not attr and "text/html" in request.headers.get("Accept", ""))
        if wants_html:
            if not self._token_ok(request, query):
                return self._unauthorised(head)
            page = render_page(self.registry, self.presets(), self.token).encode()
            extra: tuple[tuple[str, str], ...] = (("Cache-Control", "no-store"),)
            if self.token is not None:
                extra += (("Set-Cookie", f"livegan_token={self.token}; Path=/; HttpOnly; SameSite=Strict"),)
            return _response(200, page, "text/html; charset=utf-8", head, extra)
        if attr == "HOST_INFO":
            osc_host, osc_port = self.osc()
            return self._json(200, host_info(self.name, osc_host, osc_port), head)
        node = find_node(build_tree(self.registry, self.levels(), self.presets), path)
        if node is None:
            return self._json(404, {"ERROR": f"no node at {path}"}, head)
        if attr:
            status, body = attribute(node, attr)
            return self._json(status, body, head)
        return self._json(200, node, head)

    @staticmethod
    def _json(status: int, body: Any, head: bool) -> Response:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        return _response(status, data, "application/json", head, CORS)

    @staticmethod
    def _unauthorised(head: bool) -> Response:
        return _response(401, b"this remote needs its token: open the address livegan shows on its HUD "
                              b"(http://HOST:PORT/?token=...)\n", "text/plain; charset=utf-8", head)

    # ---- WebSocket -----------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        client = Client(ws, self._may_write(ws.request))
        self.clients.add(client)
        try:
            async for message in ws:
                try:
                    if isinstance(message, str):
                        self._command(client, message)
                    else:
                        self._osc(client, bytes(message))
                except Exception:  # a bug must not drop the client
                    log.exception("oscquery: error handling a WebSocket message")
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(client)
            if any(a.startswith(OUT_PREFIX) for a in client.listen):
                self._listening_out -= 1

    def _command(self, client: Client, text: str) -> None:
        try:
            msg = json.loads(text)
            command, data = msg["COMMAND"], msg.get("DATA")
        except (ValueError, TypeError, KeyError):
            self.dispatcher.refuse(MALFORMED, "", "a WebSocket text message must be JSON with COMMAND and DATA",
                                   WsOrigin(self, client))
            return
        if command not in ("LISTEN", "IGNORE") or not isinstance(data, str):
            return  # commands this server does not know are ignored, as the proposal asks
        was_out = any(a.startswith(OUT_PREFIX) for a in client.listen)
        (client.listen.add if command == "LISTEN" else client.listen.discard)(data)
        now_out = any(a.startswith(OUT_PREFIX) for a in client.listen)
        self._listening_out += int(now_out) - int(was_out)

    def _osc(self, client: Client, data: bytes) -> None:
        origin = WsOrigin(self, client)
        act = self.dispatcher.activity
        try:
            timed = parse_packet(data)
        except OscParseError as exc:
            act.received()
            self.dispatcher.refuse(MALFORMED, "", f"{exc} ({len(data)} bytes over the WebSocket)", origin)
            return
        act.received(len(timed))
        for tm in timed:  # bundles apply at once here: a WebSocket client is on the same machine or LAN
            if not client.write:
                self.dispatcher.refuse(NOT_ALLOWED, tm.message.address, "writing over this WebSocket needs the "
                                       "remote's token (or no foreign Origin)", origin)
                continue
            self.dispatcher.apply_all(tm.message, origin)

    def _push(self, client: Client, data: bytes | str) -> None:
        """Send to one client from the loop thread; a client that cannot keep up loses sends."""
        if client.pending >= MAX_PENDING:
            return
        client.pending += 1

        async def send() -> None:
            try:
                await client.ws.send(data)
            except ConnectionClosed:
                pass
            finally:
                client.pending -= 1

        asyncio.ensure_future(send())

    def _push_all(self, client: Client, messages: list[bytes]) -> None:
        """Several messages as one OSC bundle (one WebSocket frame), one as itself."""
        if messages:
            self._push(client, messages[0] if len(messages) == 1 else encode_bundle(messages))

    # ---- streaming (registry and feedback threads hand over to the loop) ---------------
    def _on_change(self, change: ParamChange) -> None:
        if not self.clients or self._loop is None:
            return
        with self._lock:
            self._dirty[change.name] = change.value
            if self._flush_due:
                return
            self._flush_due = True
        self._loop.call_soon_threadsafe(self._loop.call_later, FLUSH_S, self._flush_changes)

    def _flush_changes(self) -> None:
        with self._lock:
            dirty, self._dirty, self._flush_due = self._dirty, {}, False
        msgs: dict[str, bytes] = {}
        for name, value in dirty.items():
            if name not in self.registry:
                continue
            spec = self.registry.spec(name)
            if spec.type == "trigger":
                msgs[spec.address] = encode_message(spec.address, value if isinstance(value, tuple) else ())
                continue
            msgs[spec.address] = encode_message(spec.address, (value,))
            if has_norm(spec):
                msgs[norm_address(spec)] = encode_message(norm_address(spec), (float(spec.normalise(value)),))
        for client in list(self.clients):
            self._push_all(client, [msgs[a] for a in client.listen.intersection(msgs)])

    def feature_sink(self, msgs: list[tuple[str, tuple[Any, ...]]]) -> None:
        """The feedback pump's sink (its thread): the newest levels and every event, for listeners."""
        if self._listening_out <= 0 or self._loop is None:
            return
        with self._lock:
            self._features = msgs
            self._events.extend(m for m in msgs if OUTPUT_BY_ADDRESS[m[0]].event)
            del self._events[:-256]
            if self._features_due:
                return
            self._features_due = True
        self._loop.call_soon_threadsafe(self._flush_features)

    def _flush_features(self) -> None:
        with self._lock:
            levels = [m for m in self._features if not OUTPUT_BY_ADDRESS[m[0]].event]
            events, self._events, self._features_due = self._events, [], False
        encoded = [(address, encode_message(address, args)) for address, args in (*levels, *events)]
        for client in list(self.clients):
            self._push_all(client, [data for address, data in encoded if address in client.listen])

    def _watch_paths(self) -> None:
        """PATH_CHANGED to every client when parameters were declared or dropped (checked each second)."""
        self.cpu_s = time.thread_time()
        version = self.dispatcher.namespace.refresh()
        if version != self._names_version:
            self._names_version = version
            note = json.dumps({"COMMAND": "PATH_CHANGED", "DATA": "/livegan"})
            for client in list(self.clients):
                self._push(client, note)
        if self._loop is not None and self._stopped is not None and not self._stopped.is_set():
            self._loop.call_later(1.0, self._watch_paths)

    def status(self) -> dict[str, Any]:
        return {"clients": len(self.clients), "writers": sum(c.write for c in self.clients),
                "requests": self.requests}


def jpeg_bytes(thumb: Any) -> bytes:
    """An RGB uint8 array as JPEG (Pillow): a preview, encoded in a tenth of a millisecond (PNG: ~5 ms)."""
    from PIL import Image  # noqa: PLC0415

    buf = io.BytesIO()
    Image.fromarray(thumb).save(buf, format="JPEG", quality=80)
    return buf.getvalue()
