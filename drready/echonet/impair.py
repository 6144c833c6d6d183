"""An impaired ECHONET Lite link: the harness's datagram endpoint and its receive handler, wrapped.

:class:`ImpairedLink` sits between the gateway and its socket (or in-memory endpoint) and does,
in both directions, what a lossy LAN does to UDP: it drops a datagram, delivers it twice, holds
it for a delay with jitter, holds it longer so later ones overtake it (reordering), or changes
its TID (a corrupted header that still parses). It also floods the gateway with unsolicited INF
frames from another node (:data:`FLOOD_SOURCE`). Every timer is the event loop's
(``call_later``), so on virtual time a delay costs no real time and a seeded run is the same
run every time. Nothing is changed in the gateway or the transport: the session wraps them::

    link = ImpairedLink(profile.impair, evidence)
    gateway = Gateway(evidence, retries=link.retries(settings.retries), ...)
    endpoint = network.endpoint(link.receiver(gateway.datagram_received), host, port)
    gateway.attach(link.endpoint(endpoint))

With no impairment (``None`` or all rates zero), :meth:`ImpairedLink.receiver` and
:meth:`ImpairedLink.endpoint` hand back what they were given: nothing in between.

What the gateway's evidence shows: a request the link dropped still has its ``tx`` record (the
gateway wrote it before sending), followed by an ``impair`` record saying it was dropped; a reply
the link dropped has only the ``impair`` record (with the datagram's bytes); a datagram delivered
twice or corrupted has its ``rx`` records as the gateway received it. So the pcapng holds what
the harness sent and what it was given, and the ``impair`` records say what the link did between.

A protocol monitor judging the device from the gateway's side must not blame the device for what
the link did: :meth:`ImpairedLink.explains` says whether a received datagram is the link's work
(a duplicate copy, a corrupted TID, a flooded INF, or a reply to a request the link duplicated or
whose TID it corrupted), and :meth:`ImpairedLink.actions_for` lists what the link did to the
datagrams of one TID (a request dropped: no reply to that attempt is the link's doing).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable

from drready.echonet.codec import (
    CONTROLLER,
    ECHONET_LITE_PORT,
    EOJ,
    ESV,
    NODE_PROFILE,
    Frame,
    Property,
    decode,
)
from drready.echonet.errors import DecodeError
from drready.echonet.gateway import summarize
from drready.echonet.transport import Address, DatagramEndpoint, DatagramHandler
from drready.evidence import EvidenceSink
from drready.impairment import (
    EVIDENCE_KIND,
    RX,
    TX,
    Impairment,
    LinkImpairment,
    attempts_under,
)

__all__ = ["FLOOD_SOURCE", "RX", "TX", "ImpairedEndpoint", "ImpairedLink"]

CHANNEL = "echonet"
#: Where flooded INF frames come from: another node on the LAN, never the device under test (a
#: frame forged in the device's name would change what the device is judged on).
FLOOD_SOURCE: Address = ("127.0.0.254", ECHONET_LITE_PORT)
#: A general lighting object (0x0290) of the flooding node.
_LIGHT = EOJ(0x02, 0x90, 0x01)
#: EPC 0xD5: instance list notification (node profile); 0x80: operation status.
_INSTANCE_LIST_NOTIFICATION = 0xD5
_OPERATION_STATUS = 0x80


def _tid(data: bytes) -> int | None:
    # EHD1 EHD2 TID: the TID is bytes 2-3 of any ECHONET Lite frame, whichever its format.
    return int.from_bytes(data[2:4], "big") if len(data) >= 4 and data[0] == 0x10 else None


def _with_tid(data: bytes, tid: int) -> bytes:
    return data[:2] + tid.to_bytes(2, "big") + data[4:]


def _describe(data: bytes) -> str:
    try:
        return summarize(decode(data))
    except DecodeError:
        return f"undecodable datagram ({len(data)} bytes)"


class ImpairedLink:
    """The impairment of one gateway's datagram link (see the module docs)."""

    def __init__(
        self,
        impairment: Impairment | None,
        evidence: EvidenceSink,
        *,
        name: str = CHANNEL,
        flood_source: Address = FLOOD_SOURCE,
    ) -> None:
        self.impairment = impairment if impairment is not None and impairment.active else None
        self.evidence = evidence
        self.dice: LinkImpairment | None = (
            self.impairment.link(name) if self.impairment is not None else None
        )
        self.flood_source = flood_source
        #: How many times each action was taken ("drop tx", "duplicate rx", "flood", ...).
        self.counts: Counter[str] = Counter()
        self._handler: DatagramHandler | None = None
        self._injected: Counter[tuple[bytes, Address]] = Counter()
        self._tids: defaultdict[int, list[str]] = defaultdict(list)
        #: TIDs whose replies the link accounts for: requests it sent twice, or sent with a
        #: corrupted TID (the device echoes the TID it was given).
        self._reply_tids: dict[int, str] = {}
        self._flood_tid = 0
        self._flood_timer: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def active(self) -> bool:
        return self.dice is not None

    def retries(self, configured: int) -> int:
        """The gateway's retries on this link (see :meth:`drready.impairment.Impairment.attempts`);
        a raise is noted in the evidence."""
        retries = attempts_under(self.impairment, configured + 1) - 1
        if self.impairment is not None:
            raised = (
                f"; retries raised from {configured} to {retries}" if retries > configured else ""
            )
            self._note(
                "settings", "", f"ECHONET Lite link impaired: {self.impairment.describe()}{raised}"
            )
        return retries

    # -- wrapping ------------------------------------------------------------------------------
    def receiver(self, handler: DatagramHandler) -> DatagramHandler:
        """What the transport calls for each datagram: ``handler`` behind the impairment. A
        gateway with several sockets (its port and the multicast group) wraps each one's."""
        if self.dice is None:
            return handler
        if self._handler is None:
            self._handler = handler  # where flooded frames go: the first socket's handler

        def received(data: bytes, source: Address) -> None:
            if not self._closed:
                self._pass(RX, data, source, lambda d, s: self._deliver(d, s, handler))

        return received

    def endpoint(self, endpoint: DatagramEndpoint) -> DatagramEndpoint:
        """``endpoint`` with its sending impaired (and the INF flood started with it)."""
        if self.dice is None:
            return endpoint
        return ImpairedEndpoint(self, endpoint)

    # -- what a monitor asks -------------------------------------------------------------------
    def explains(self, data: bytes, source: Address) -> str | None:
        """Why the link, not the device, accounts for this received datagram (None: it does
        not). A copy the link made is explained once per copy made.

        This answers for the checks that depend on how many datagrams arrived and with which TID
        (a duplicate response, an unsolicited one, a TID that echoes no request), never for what
        a frame of the device holds: the link changes headers and counts, not properties."""
        key = (bytes(data), source)
        if self._injected[key] > 0:
            self._injected[key] -= 1
            return "made by the link impairment (a duplicate, a corrupted TID or a flooded INF)"
        tid = _tid(data)
        reason = self._reply_tids.get(tid) if tid is not None else None
        if reason is not None:
            return f"a reply to a request the link impairment {reason}"
        return None

    def actions_for(self, tid: int) -> tuple[str, ...]:
        """What the link did to datagrams carrying ``tid`` (as sent by the gateway, or as
        corrupted by the link), in order: "drop tx", "duplicate rx", "corrupt tx", ..."""
        return tuple(self._tids.get(tid, ()))

    # -- the two directions --------------------------------------------------------------------
    def _deliver(self, data: bytes, source: Address, handler: DatagramHandler) -> None:
        if not self._closed:
            handler(data, source)

    def _pass(
        self, direction: str, data: bytes, peer: Address, forward: Callable[[bytes, Address], None]
    ) -> None:
        """One datagram through the impairment, ``forward``-ed 0, 1 or 2 times, now or later."""
        dice = self.dice
        assert dice is not None
        tid = _tid(data)
        if dice.lost(direction):
            self._act(f"drop {direction}", peer, data, tid)
            return
        if tid is not None and dice.corrupted(direction):
            changed = dice.new_tid(tid, direction)
            self._act(
                f"corrupt {direction}", peer, data, tid, f" (TID 0x{tid:04X} -> 0x{changed:04X})"
            )
            self._tids[changed].append(f"corrupt {direction}")
            data = _with_tid(data, changed)
            if direction == RX:
                self._injected[(data, peer)] += 1
            else:
                self._reply_tids[changed] = f"sent with TID 0x{changed:04X} instead of 0x{tid:04X}"

        copies = 1
        if dice.duplicated(direction):
            copies = 2
            self._act(f"duplicate {direction}", peer, data, tid)
            if direction == RX:
                self._injected[(data, peer)] += 1
            elif tid is not None:
                self._reply_tids[_tid(data) or tid] = "sent twice"

        for _copy in range(copies):
            delay = dice.delay_s(direction)
            if dice.reordered(direction):
                delay += dice.reorder_hold_s()
                self._act(f"reorder {direction}", peer, data, tid, f" (held {delay * 1000:g} ms)")
            if delay > 0:
                asyncio.get_running_loop().call_later(delay, forward, data, peer)
            else:
                forward(data, peer)

    def _act(
        self, action: str, peer: Address, data: bytes, tid: int | None, detail: str = ""
    ) -> None:
        self.counts[action] += 1
        if tid is not None:
            self._tids[tid].append(action)
        self._note(action, f"{peer[0]}:{peer[1]}", f"{action}: {_describe(data)}{detail}", data)

    def _note(self, action: str, peer: str, summary: str, data: bytes = b"") -> None:
        direction = action.rpartition(" ")[2] if action.endswith((TX, RX)) else ""
        values = {"action": action.partition(" ")[0], "direction": direction}
        self.evidence.add(EVIDENCE_KIND, CHANNEL, peer, summary, data=data, values=values)

    # -- the INF flood -------------------------------------------------------------------------
    def _start_flood(self) -> None:
        if (
            self._flood_timer is not None
            or self._closed
            or self.impairment is None
            or not self.impairment.inf_flood_per_s
        ):
            return
        self._schedule_flood()

    def _schedule_flood(self) -> None:
        assert self.dice is not None
        loop = asyncio.get_running_loop()
        self._flood_timer = loop.call_later(self.dice.flood_interval_s(), self._flood)

    def _flood(self) -> None:
        if self._closed:
            return
        assert self.dice is not None
        self._flood_tid = (self._flood_tid % 0xFFFF) + 1
        if self.dice.pick("flood", 2) == 0:
            # The node announcing its instances, as a node does when it starts.
            frame = Frame(
                tid=self._flood_tid,
                seoj=NODE_PROFILE,
                deoj=NODE_PROFILE,
                esv=ESV.INF,
                properties=(Property(_INSTANCE_LIST_NOTIFICATION, b"\x01\x02\x90\x01"),),
            )
        else:
            status = b"\x30" if self.dice.pick("flood", 2) else b"\x31"
            frame = Frame(
                tid=self._flood_tid,
                seoj=_LIGHT,
                deoj=CONTROLLER,
                esv=ESV.INF,
                properties=(Property(_OPERATION_STATUS, status),),
            )
        data = frame.encode()
        self.counts["flood rx"] += 1
        source = self.flood_source
        self._note("flood rx", f"{source[0]}:{source[1]}", f"flood rx: {summarize(frame)}", data)
        self._injected[(data, source)] += 1
        self._schedule_flood()
        if self._handler is not None:
            self._deliver(data, source, self._handler)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._flood_timer is not None:
            self._flood_timer.cancel()


class ImpairedEndpoint:
    """A datagram endpoint whose sends go through an :class:`ImpairedLink`."""

    def __init__(self, link: ImpairedLink, inner: DatagramEndpoint) -> None:
        self._link = link
        self._inner = inner

    @property
    def local_address(self) -> Address:
        return self._inner.local_address

    def send(self, data: bytes, address: Address) -> None:
        if self._link._closed:
            return
        self._link._start_flood()
        self._link._pass(TX, bytes(data), address, self._forward)

    def _forward(self, data: bytes, address: Address) -> None:
        if not self._link._closed:
            self._inner.send(data, address)

    def close(self) -> None:
        self._link.close()
        self._inner.close()
