"""The servicer's side of a link impairment (:mod:`drready.impairment`): an aiohttp middleware,
outermost, that does to each HTTP exchange what a lossy link does.

Over TCP a lost segment is retransmitted by the kernel; what reaches HTTP is a request or an
answer that never comes (a broken connection). So:

- a *lost request* is not handled (the evidence has only its ``impair`` record) and its
  connection is reset;
- a *lost answer*: the request is handled (the servicer acts on it, the evidence has the
  answer) and the connection is reset instead of answering;

either way the client (the VEN) sees a connection error and retries as it will. A *delay* (with
jitter) holds the request before it is handled and the answer before it goes. A *duplicated*
request (GET or HEAD only: safe methods, RFC 9110 §9.2.1) is handled twice and the client gets
the first answer. Reordering, TID corruption and INF floods do not apply to HTTP. Directions are
the harness's: a request from the VEN is ``rx``, the answer ``tx``. Waits are on the event
loop's clock, so a delay costs no real time on virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable

from aiohttp import web

from drready.evidence import EvidenceSink
from drready.evidence.http import CHANNEL, peer_of
from drready.impairment import EVIDENCE_KIND, RX, TX, LinkImpairment

__all__ = ["abort_connection", "impairment_middleware"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SAFE_METHODS = frozenset({"GET", "HEAD"})


def abort_connection(request: web.Request) -> None:
    """Abort the request's connection with a TCP RST (SO_LINGER 0): no HTTP answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def impairment_middleware(
    dice: LinkImpairment,
    evidence: EvidenceSink,
    *,
    on_drop: Callable[[], None] | None = None,
) -> Callable[[web.Request, _Handler], Awaitable[web.StreamResponse]]:
    """The middleware applying ``dice`` to every exchange (see the module docs); ``on_drop``
    is called for each request or answer lost (so a wait can tell a silent device from a lossy
    link)."""

    def note(action: str, peer: str, summary: str) -> None:
        kind, _, direction = action.partition(" ")
        if kind == "drop" and on_drop is not None:
            on_drop()
        values = {"action": kind, "direction": direction}
        evidence.add(EVIDENCE_KIND, CHANNEL, peer, summary, values=values)

    @web.middleware
    async def impair(request: web.Request, handler: _Handler) -> web.StreamResponse:
        peer = peer_of(request)
        which = f"{request.method} {request.path} from {peer}"
        if dice.lost(RX):
            note("drop rx", peer, f"drop rx: the request {which} is lost")
            abort_connection(request)
            return web.Response(status=204)  # never sent: the connection is gone
        there, back = dice.delay_s(RX), dice.delay_s(TX)
        if there:
            await asyncio.sleep(there)
        response = await handler(request)
        if request.method in _SAFE_METHODS and dice.duplicated(RX):
            note("duplicate rx", peer, f"duplicate rx: the request {which} came twice")
            with contextlib.suppress(web.HTTPException):
                await handler(request)
        if dice.lost(TX):
            note("drop tx", peer, f"drop tx: the answer to {which} is lost")
            abort_connection(request)
            return web.Response(status=204)
        if back:
            await asyncio.sleep(back)
        return response

    return impair
