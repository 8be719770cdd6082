"""The simulator's HTTP API served on Trio by hypercorn (a real HTTP/1.1 server).

A small ASGI app hands each request to the sans-IO :class:`~bulk_trio.sim.http_api.SimHttpApi`
and applies the HTTP faults that need time or a socket: delays, the executor's 408, and a
connection dropped after a write was applied. Engine events a ``POST /order`` caused are published
through the same path as a WebSocket ``post``, so account streams see both alike.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from ..events import EngineEvent
from ..http_api import HttpAnswer, HttpFaults, SimHttpApi, error_answer, failure_answer

log = logging.getLogger("bulk_trio.sim.http")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
MAX_BODY_BYTES = 1 << 20
_EXECUTOR_ROUTES = ("/account", "/order")


class _PreparedTLSConfig(Config):
    """hypercorn's configuration with an SSL context made in memory (the simulator's throwaway
    certificate authority) instead of the certificate and key files hypercorn would read."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self._prepared_context = context

    @property
    def ssl_enabled(self) -> bool:
        return True

    def create_ssl_context(self) -> ssl.SSLContext:
        return self._prepared_context


class _DropConnection(Exception):
    """Raised after the response has started: hypercorn then closes the connection mid-reply."""


def _not_an_injected_drop(record: logging.LogRecord) -> bool:
    """hypercorn logs an app's exception as an error; a drop we injected on purpose is not one."""
    if record.exc_info and isinstance(record.exc_info[1], _DropConnection):
        log.info("simulator: HTTP connection dropped after a write (fault injection)")
        return False
    return True


log.addFilter(_not_an_injected_drop)


class HttpServer:
    """The ASGI app of the simulator's HTTP API; :meth:`serve` runs it on loopback."""

    def __init__(
        self,
        api: SimHttpApi,
        faults: HttpFaults,
        publish: Callable[[Sequence[EngineEvent]], None],
    ) -> None:
        self.api = api
        self.faults = faults
        self.publish = publish
        self.requests_handled = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await self._body(receive)
        self.requests_handled += 1
        client = scope.get("client") or ("?", 0)
        path: str = scope["path"]
        if body is None:
            await self._send(send, error_answer(413, "BAD_REQUEST", "request body too large"))
            return
        failure = self.faults.take_failure()
        if failure is None and self.faults.over_rate(str(client[0]), trio.current_time()):
            failure = 429
        if failure is not None:
            await self._send(send, failure_answer(failure))
            return
        query = _query(scope.get("query_string", b""))
        answer = self.api.handle(scope["method"], path, query, body, now_ns=time.time_ns())
        if answer.events:
            self.publish(answer.events)
        delay = self.faults.delay
        if delay > 0:
            timeout = self.faults.executor_timeout
            if delay >= timeout and path.endswith(_EXECUTOR_ROUTES):
                await trio.sleep(timeout)
                await self._send(send, failure_answer(408))
                return
            await trio.sleep(delay)
        if answer.is_write and self.faults.take_drop():
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [(b"content-length", str(len(answer.body)).encode())],
                }
            )
            raise _DropConnection("connection dropped after the write (fault injection)")
        await self._send(send, answer)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _send(self, send: Send, answer: HttpAnswer) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
            *[(name.encode(), value.encode()) for name, value in answer.headers],
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def serve(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve on ``host:port`` (0: any free port) until cancelled; reports the bound port.
        With ``ssl_context``, serve HTTPS with it."""
        config = Config() if ssl_context is None else _PreparedTLSConfig(ssl_context)
        config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
        config.accesslog = None
        config.errorlog = log
        config.graceful_timeout = 0.1
        config.keep_alive_timeout = 30.0

        class _Status:
            def started(self, binds: list[str] | None = None) -> None:
                bound = int((binds or [""])[0].rsplit(":", 1)[1])
                task_status.started(bound)

        await serve(self, config, task_status=_Status())  # type: ignore[arg-type]


def _query(raw: bytes) -> dict[str, str]:
    """The query string as ``{name: value}`` (the last value of a repeated name wins)."""
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
