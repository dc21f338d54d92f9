"""How a request to Xero reaches the network and how its answer is read: within one deadline.

Below ``xero/client.py``, which sends every request through it. A read timeout bounds each
wait for a byte, not the whole answer, so every request runs under a ``Watchdog`` that
shuts its sockets at the deadline, whatever they wait for (``DeadlineAdapter`` builds
sockets that register with it). A redirect is refused unread (``refuse_redirect``), and a
body is read and inflated in bounded steps under the deadline and the size cap
(``read_body``). A fleet thread's run of calls keeps its connections open from one session
to the next (``connections_kept``, entered by ``xero/fleet.py``), and a pool thread keeps
them from one run to the next (``connections_kept_by_thread``, entered by ``xero/pool.py``).
"""

import contextvars
import heapq
import http.client
import itertools
import socket
import threading
import time
import zlib
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from . import exceptions, values


class _DeadlinePassed(Exception):
    """The deadline passed while an answer's body was being read (``read_body``)."""


# Small reads, so that the deadline and the size cap are checked often.
_READ_SIZE = 16384
# The errors a request or a body read can end in, whichever layer raises them.
TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    # What a TLS socket raises when the watchdog shuts it mid-read.
    ValueError,
    _DeadlinePassed,
)


def is_timeout(error: Exception) -> bool:
    """Whether ``error`` (of any layer) says the request ran out of time."""
    return isinstance(
        error,
        requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError | _DeadlinePassed,
    )


class Watchdog:
    """Shuts the request's socket when the deadline passes, whatever it is waiting for.

    A read timeout bounds each wait for a byte, not the whole answer: a server sending one
    byte every second never trips it. The sockets the request uses register themselves
    here (``_WatchedConnection``); at the deadline ``_SHUTTER`` shuts them, which ends any
    blocked read at once, in the headers or the body, over TLS or not.
    """

    def __init__(self, deadline: float):
        self.fired = False
        self.deadline = deadline
        self._lock = threading.Lock()
        self._connections: list[urllib3.connection.HTTPConnection] = []
        self._done = False
        self._token: contextvars.Token[Watchdog | None] | None = None

    def __enter__(self):
        self._token = _current_watchdog.set(self)
        _SHUTTER.watch(self)
        return self

    @property
    def done(self) -> bool:
        return self._done

    def __exit__(self, *exc_info):
        with self._lock:
            self._done = True
        if self._token is not None:
            _current_watchdog.reset(self._token)

    def watch(self, connection) -> None:
        with self._lock:
            self._connections.append(connection)
            fired = self.fired
        if fired:
            _shut(connection)

    def fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)


class _Shutter:
    """One thread for every request of the process: it fires each watchdog at its deadline.

    One thread, rather than a timer per request, so that a call costs no thread start
    (a fleet check makes many at once).
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._due = []
        self._order = itertools.count()
        self._thread = None

    def watch(self, watchdog: Watchdog) -> None:
        with self._condition:
            heapq.heappush(self._due, (watchdog.deadline, next(self._order), watchdog))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="xero-deadlines", daemon=True
                )
                self._thread.start()
            # Woken only for a deadline sooner than the one it waits for: deadlines mostly
            # come in order, and a wake per request (a thread switch each) was a share of a
            # fleet check's CPU.
            if self._due[0][2] is watchdog:
                self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                # The requests that ended leave at once, without a wake each at their
                # deadline: the thread sleeps until the first deadline still watched.
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._condition.wait()
                    continue
                deadline, _, watchdog = self._due[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._due)
            watchdog.fire()


_SHUTTER = _Shutter()
_current_watchdog: contextvars.ContextVar["Watchdog | None"] = contextvars.ContextVar(
    "xero_request_watchdog", default=None
)


def _shut(connection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        # The plain socket's shutdown, also under TLS: it ends a read blocked in another
        # thread without touching the TLS object that thread is using.
        with suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


# The mixin's base to the type checker: the urllib3 connection it is mixed into.
if TYPE_CHECKING:
    _ConnectionBase = urllib3.connection.HTTPConnection
else:
    _ConnectionBase = object


class _WatchedConnection(_ConnectionBase):
    """Registers its socket with the request's watchdog (a mixin for urllib3's classes)."""

    def connect(self):
        super().connect()
        watchdog = _current_watchdog.get()
        if watchdog is not None:
            watchdog.watch(self)

    def request(self, *args, **kwargs):
        watchdog = _current_watchdog.get()
        if watchdog is not None and self.sock is not None:
            watchdog.watch(self)
        return super().request(*args, **kwargs)


class _WatchedHTTPConnection(_WatchedConnection, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, urllib3.connection.HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with connections the deadline's watchdog can shut."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        # Through an HTTPS_PROXY too: the deadline holds on the socket to the proxy.
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def refuse_redirect(response) -> None:
    if not 300 <= response.status_code < 400:
        return
    response.close()
    location = values.text(response.headers.get("Location", ""), 200)
    raise exceptions.UnexpectedResponse(
        received=(
            f"a redirect (HTTP {response.status_code}) to {location}"
            if location
            else f"a redirect (HTTP {response.status_code}) that pointed nowhere"
        ),
        http_status=response.status_code,
        problem=f"Location: {location}" if location else "",
    )


def read_body(response, *, deadline: float, limit: int) -> None:
    """Read and decompress the body in small steps, checking the deadline and the size cap.

    Decompression is bounded too: each step inflates at most what is left under the cap,
    so a small gzip body that inflates to gigabytes costs no more than the cap.
    """
    declared = header_int(response, "Content-Length")
    decoder = _decoder(response)
    if declared is not None and decoder is None and declared > limit:
        response.close()
        raise _too_large(response, limit, declared=declared)
    parts, size = [], 0
    while True:
        if time.monotonic() > deadline:
            response.close()
            raise _DeadlinePassed
        data = response.raw.read1(_READ_SIZE, decode_content=False)
        if not data:
            break
        while data:
            if decoder is None:
                out, data = data, b""
            else:
                out = _inflate(response, decoder, data, limit + 1 - size)
                data = decoder.unconsumed_tail
            size += len(out)
            if size > limit:
                response.close()
                raise _too_large(response, limit, declared=declared)
            parts.append(out)
    if decoder is not None:
        tail = _inflate(response, decoder, b"", limit + 1 - size)
        if size + len(tail) > limit:
            raise _too_large(response, limit, declared=declared)
        parts.append(tail)
    response._content = b"".join(parts)
    response._content_consumed = True
    if response.encoding is None:
        # Xero speaks UTF-8; guessing the charset of a megabyte of anything else would
        # cost a second of CPU after the deadline.
        response.encoding = "utf-8"


def _inflate(response, decoder, data: bytes, at_most: int) -> bytes:
    try:
        return decoder.decompress(data, at_most)
    except zlib.error:
        response.close()
        raise exceptions.UnexpectedResponse(
            received="a compressed answer that does not decompress",
            http_status=response.status_code,
        ) from None


def _decoder(response):
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        # zlib-wrapped or gzip, as servers send under this name (32: detect the header).
        return zlib.decompressobj(32 + zlib.MAX_WBITS)
    response.close()
    raise exceptions.UnexpectedResponse(
        received=f"an answer in an encoding it was not asked for ({values.text(encoding, 40)})",
        http_status=response.status_code,
    )


def _too_large(response, limit: int, *, declared: int | None):
    size = f"{_size(declared)} ({declared} bytes)" if declared and declared > limit else ""
    return exceptions.UnexpectedResponse(
        received=(
            f"an answer of {size}, over the {_size(limit)} limit"
            if size
            else f"an answer of more than {_size(limit)} once decompressed, over the limit"
        ),
        http_status=response.status_code,
    )


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return (
                f"{count / scale:g} {unit}" if count % scale == 0 else f"{count / scale:.1f} {unit}"
            )
    return f"{count} bytes"


_kept_adapters: contextvars.ContextVar[dict[str, "DeadlineAdapter"] | None] = (
    contextvars.ContextVar("xero_kept_adapters", default=None)
)
# The adapters a pool thread keeps for all its runs (``connections_kept_by_thread``). Not a
# context variable: each job runs in a copy of its fleet run's context, not the thread's.
_thread_kept = threading.local()


def _new_adapters() -> dict[str, "DeadlineAdapter"]:
    return {"https://": DeadlineAdapter(), "http://": DeadlineAdapter()}


def _close(adapters: dict[str, "DeadlineAdapter"]) -> None:
    for adapter in adapters.values():
        adapter.close()


@contextmanager
def connections_kept():
    """Within this block, the sessions opened one after another send through the same
    connections to Xero, each left open for the next (HTTP keep-alive).

    A fleet thread tests one Site after another: a new connection for each (and, to Xero
    itself, a TLS handshake) costs more CPU than the request. Only for one thread's run
    of calls: the adapters are not shared between threads, and are closed at the end,
    unless the thread keeps them for its next run (``connections_kept_by_thread``). A
    connection the deadline's watchdog shut, or that failed, is never handed on (urllib3
    closes it); one Xero closed while idle is noticed before it is used again.
    """
    held = getattr(_thread_kept, "adapters", None)
    adapters = held or _new_adapters()
    token = _kept_adapters.set(adapters)
    try:
        yield
    finally:
        _kept_adapters.reset(token)
        if held is None:
            _close(adapters)


@contextmanager
def connections_kept_by_thread():
    """Within this block, this thread's runs of calls (``connections_kept``) all send
    through one set of connections, closed when the block ends.

    A fleet run's threads end when its chunks do, and the next chunk's run starts in the
    same pool threads (``xero/pool.py``): without this, each run would open its own
    connections again, a third of a fleet's calls (and to Xero, as many TLS handshakes).
    """
    _thread_kept.adapters = _new_adapters()
    try:
        yield
    finally:
        _close(_thread_kept.__dict__.pop("adapters"))


def mount(session: requests.Session) -> None:
    """Send ``session``'s requests through sockets the deadline can shut: the connections
    kept for this thread's run of calls (``connections_kept``), else adapters of its own."""
    kept = _kept_adapters.get()
    for prefix in ("https://", "http://"):
        if kept is not None:
            if session.adapters.get(prefix) is not kept[prefix]:
                session.mount(prefix, kept[prefix])
        elif not isinstance(session.adapters.get(prefix), DeadlineAdapter):
            session.mount(prefix, DeadlineAdapter())


def header_int(response, name: str) -> int | None:
    """A whole-number header of Xero's answer (``Retry-After``, ``X-MinLimit-Remaining``…)."""
    try:
        return int(response.headers.get(name, ""))
    except ValueError:
        return None
