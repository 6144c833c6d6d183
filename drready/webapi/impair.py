"""The Web API client's side of a link impairment (:mod:`drready.impairment`): what a lossy
link does to one HTTP exchange the harness makes.

Over TCP a lost segment is retransmitted by the kernel; what reaches HTTP is a request or an
answer that never comes (a broken connection, a proxy that drops it). So:

- a *lost request* is recorded as sent (the harness sent it), never reaches the cloud, and the
  client waits out its timeout;
- a *lost answer*: the cloud acts on the request and answers, the answer is received (and
  recorded) and discarded, and the client waits out the rest of its timeout;
- a *delay* (with jitter) holds the request before it goes and the answer after it comes; an
  exchange whose two delays reach the timeout has no answer in time;
- a *duplicated* read (GET, HEAD: safe methods, RFC 9110 §9.2.1) is sent twice and the second
  answer discarded. A control request is never duplicated: its replay guard makes a copy a
  replay, which a conforming cloud refuses.

Reordering, TID corruption and INF floods do not apply to HTTP. Every action is an ``impair``
record on channel ``http``; waits are on the event loop's clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from drready.evidence import EvidenceSink
from drready.evidence.http import CHANNEL
from drready.impairment import EVIDENCE_KIND, RX, TX, LinkImpairment

__all__ = ["SAFE_METHODS", "ImpairedExchanges", "LostOnLink"]

A = TypeVar("A")

#: Methods the link may deliver twice.
SAFE_METHODS = frozenset({"GET", "HEAD"})


class LostOnLink(Exception):
    """The link lost the exchange; raised once the client has waited out its timeout."""


class ImpairedExchanges:
    """Applies one link's dice to the exchanges of one client."""

    def __init__(self, dice: LinkImpairment, evidence: EvidenceSink, timeout_s: float) -> None:
        self.dice = dice
        self.evidence = evidence
        self.timeout_s = timeout_s

    def note(self, action: str, peer: str, summary: str) -> None:
        kind, _, direction = action.partition(" ")
        values = {"action": kind, "direction": direction}
        self.evidence.add(EVIDENCE_KIND, CHANNEL, peer, summary, values=values)

    async def exchange(
        self,
        peer: str,
        method: str,
        url: str,
        send: Callable[[], Awaitable[A]],
        answered: Callable[[A], bool],
        lost: Callable[[], None],
    ) -> A:
        """Send through the impairment and return the answer, or raise :class:`LostOnLink`
        (saying why) once the client has waited out its timeout for an answer the link lost.
        ``send`` makes the exchange (and records it), ``answered`` says whether it got an answer
        at all, ``lost`` records a request that the link lost before it went."""
        dice = self.dice
        which = f"{method} {url}"
        there, back = dice.delay_s(TX), dice.delay_s(RX)
        if dice.lost(TX):
            lost()
            self.note("drop tx", peer, f"drop tx: the request {which} is lost")
            await asyncio.sleep(self.timeout_s)
            raise LostOnLink("the request was lost")
        if there:
            await asyncio.sleep(min(there, self.timeout_s))
        answer = await send()
        if method in SAFE_METHODS and dice.duplicated(TX):
            self.note("duplicate tx", peer, f"duplicate tx: the request {which} sent twice")
            await send()
        if not answered(answer):
            return answer
        rest = max(0.0, self.timeout_s - there)
        if dice.lost(RX):
            self.note("drop rx", peer, f"drop rx: the answer to {which} is lost")
            await asyncio.sleep(rest)
            raise LostOnLink("the answer was lost")
        if there + back >= self.timeout_s:
            late = f"answered after {(there + back) * 1000:g} ms, past the {self.timeout_s:g} s"
            self.note("delay rx", peer, f"delay rx: {which} {late} timeout")
            await asyncio.sleep(rest)
            raise LostOnLink("the answer came too late")
        if back:
            await asyncio.sleep(back)
        return answer
