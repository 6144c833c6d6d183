"""The harness as home gateway (controller): discovery, Get/SetC/SetGet, INF, bounded retries.

Requests are matched to replies by TID and by the node's address (its host: a node may answer from
another port than the one asked, as some stacks send from a socket of their own). A retransmission
reuses the TID of the first attempt, so a late reply to the first attempt still completes the
request. One request is in flight per node at a time: the standard asks a controller to wait for
a response before its next request to the same node. Every datagram in and out goes to the
evidence log with a one-line summary, and to the observer (a protocol monitor) when one is given.

The gateway sends from one endpoint and may listen on more (UDP 3610 and the multicast group on a
bench, the in-memory port 3610 in a simulated run): whichever socket a reply reaches, it is
matched the same way.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drready.echonet.codec import (
    CONTROLLER,
    EOJ,
    ESV,
    MULTICAST_GROUP,
    NODE_PROFILE,
    ArbitraryFrame,
    Frame,
    Property,
    decode,
    decode_instance_list,
    decode_property_map,
)
from drready.echonet.errors import DecodeError, EchonetTimeout, RemoteError
from drready.echonet.node import (
    EPC_GET_MAP,
    EPC_SELF_NODE_INSTANCE_LIST_S,
    EPC_SET_MAP,
    EPC_STATUS_CHANGE_MAP,
)
from drready.echonet.observer import FrameObserver
from drready.echonet.transport import Address, DatagramEndpoint
from drready.evidence import EvidenceSink

#: At most this many unsolicited frames (INF, stray replies) are kept for inspection.
NOTIFICATION_BACKLOG = 1000


def summarize(frame: Frame | ArbitraryFrame) -> str:
    """One line a test engineer can read: service, objects, TID and each EPC with its data."""
    if isinstance(frame, ArbitraryFrame):
        return f"arbitrary-format TID 0x{frame.tid:04X} ({len(frame.payload)} bytes)"

    # Written for every datagram of a run: each EOJ is formatted as one integer, which gives the
    # same text as EOJ.__str__ ("0x027D01") at a third of the cost.
    seoj = (frame.seoj.class_group << 16) | (frame.seoj.class_code << 8) | frame.seoj.instance
    deoj = (frame.deoj.class_group << 16) | (frame.deoj.class_code << 8) | frame.deoj.instance
    text = (
        f"{frame.esv.name} 0x{seoj:06X}->0x{deoj:06X} TID 0x{frame.tid:04X} "
        f"[{_block(frame.properties)}]"
    )
    if frame.esv.has_two_blocks:
        text += f" get[{_block(frame.get_properties)}]"
    return text


def _block(props: Iterable[Property]) -> str:
    return " ".join(
        f"{p.epc:02X}={p.edt.hex().upper()}" if p.edt else f"{p.epc:02X}" for p in props
    )


@dataclass(frozen=True)
class DiscoveredNode:
    address: Address
    instances: tuple[EOJ, ...]


@dataclass(frozen=True)
class PropertyMaps:
    get: frozenset[int]
    set: frozenset[int]
    announce: frozenset[int]


@dataclass
class _Pending:
    #: The current attempt: a reply sets it to the frame, the attempt's timer to None. The
    #: request stays registered across attempts, so a late reply completes a later attempt.
    future: asyncio.Future[Frame | None]
    address: Address
    deoj: EOJ
    collect: list[tuple[Address, Frame]] | None = None  # requests that may draw several replies


def _expire(future: asyncio.Future[Frame | None]) -> None:
    if not future.done():
        future.set_result(None)


class Gateway:
    """A controller (0x05FF01) that talks to ECHONET Lite nodes over one datagram endpoint."""

    def __init__(
        self,
        evidence: EvidenceSink,
        *,
        timeout_s: float = 2.0,
        retries: int = 2,
        seoj: EOJ = CONTROLLER,
        observer: FrameObserver | None = None,
    ) -> None:
        if timeout_s <= 0 or retries < 0:
            raise ValueError("timeout_s must be > 0 and retries >= 0")
        self.evidence = evidence
        self.timeout_s = timeout_s
        self.retries = retries
        self.seoj = seoj
        #: Told of every frame sent and every datagram received (a protocol monitor).
        self.observer = observer
        self._endpoint: DatagramEndpoint | None = None
        self._listeners: list[DatagramEndpoint] = []
        self._pending: dict[int, _Pending] = {}
        #: One lock per node host: the request in flight to it holds it.
        self._in_flight: dict[str, asyncio.Lock] = {}
        self._tid = 0
        self.notifications: deque[tuple[Address, Frame]] = deque(maxlen=NOTIFICATION_BACKLOG)
        self.unmatched: deque[tuple[Address, Frame]] = deque(maxlen=NOTIFICATION_BACKLOG)
        self.decode_errors: deque[tuple[Address, bytes, str]] = deque(maxlen=NOTIFICATION_BACKLOG)
        #: An error the receive path hit (e.g. evidence that could not be written): raised by
        #: the request that was waiting, and by every request after it.
        self.receive_error: Exception | None = None
        self.silent = False

    @property
    def local_address(self) -> Address | None:
        """The address the harness sends from (None before attach or after close)."""
        return None if self._endpoint is None else self._endpoint.local_address

    def attach(self, endpoint: DatagramEndpoint, *listeners: DatagramEndpoint) -> None:
        """Send from ``endpoint``; ``listeners`` only receive (each must have been opened with
        :meth:`datagram_received` as its handler, as ``endpoint`` was). The gateway closes them
        all."""
        self._endpoint = endpoint
        self._listeners = list(listeners)

    def close(self) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()
        for listener in self._listeners:
            listener.close()
        self._listeners = []
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None

    def _next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        while self._tid in self._pending or self._tid == 0:
            self._tid = (self._tid + 1) & 0xFFFF
        return self._tid

    def _send(self, frame: Frame, address: Address) -> None:
        if self._endpoint is None:
            raise RuntimeError("gateway has no endpoint; call attach() first")
        if self.silent:
            raise RuntimeError("gateway is silent (communication cut by the test)")
        data = frame.encode()
        record = self.evidence.add(
            "tx", "echonet", f"{address[0]}:{address[1]}", summarize(frame), data=data
        )
        if self.observer is not None:
            # Before the datagram leaves, so the observer knows the request before any reply.
            self.observer.sent(frame, address, record.seq)
        self._endpoint.send(data, address)

    # Called by the transport for each datagram.
    def datagram_received(self, data: bytes, source: Address) -> None:
        try:
            self._received(data, source)
        except Exception as exc:
            # The receive path runs as a transport callback, where asyncio would only log the
            # error. Evidence that cannot be written, or a bug, must fail the run instead: the
            # requests waiting now get the error, and so does the next one.
            self.receive_error = exc
            for pending in self._pending.values():
                if not pending.future.done():
                    pending.future.set_exception(exc)

    def _received(self, data: bytes, source: Address) -> None:
        if self._endpoint is not None and source == self._endpoint.local_address:
            # Our own multicast, looped back to the group socket: not something a node sent.
            return
        peer = f"{source[0]}:{source[1]}"
        try:
            frame = decode(data)
        except DecodeError as exc:
            record = self.evidence.add(
                "rx", "echonet", peer, f"undecodable datagram: {exc}", data=data
            )
            self._observe(data, source, record.seq)
            self.decode_errors.append((source, data, str(exc)))
            return
        record = self.evidence.add("rx", "echonet", peer, summarize(frame), data=data)
        self._observe(data, source, record.seq)
        if isinstance(frame, ArbitraryFrame):
            return
        pending = self._pending.get(frame.tid)
        if pending is not None and frame.esv.is_response and self._matches(pending, frame, source):
            if pending.collect is not None:
                pending.collect.append((source, frame))
            elif not pending.future.done():
                pending.future.set_result(frame)
            return
        if frame.esv in (ESV.INF, ESV.INFC):
            self.notifications.append((source, frame))
            if frame.esv == ESV.INFC and self._endpoint is not None and not self.silent:
                ack = frame.reply(ESV.INFC_RES, tuple(Property(p.epc) for p in frame.properties))
                self._send(ack, source)
            return
        self.unmatched.append((source, frame))

    def _observe(self, data: bytes, source: Address, seq: int) -> None:
        if self.observer is not None:
            self.observer.received(data, source, seq)

    @staticmethod
    def _matches(pending: _Pending, frame: Frame, source: Address) -> bool:
        # The node's host, not its port: a stack may answer from a socket other than the one
        # on 3610 (one per send is common), and the TID already ties the reply to the request.
        if pending.address[0] != MULTICAST_GROUP and source[0] != pending.address[0]:
            return False
        want = pending.deoj
        return frame.seoj == want or (
            want.instance == 0
            and (frame.seoj.class_group, frame.seoj.class_code)
            == (want.class_group, want.class_code)
        )

    async def request(
        self,
        address: Address,
        deoj: EOJ,
        esv: ESV,
        properties: Sequence[Property],
        get_properties: Sequence[Property] = (),
    ) -> Frame:
        """Send a request and return its reply; retransmits with the same TID, then times out.

        Waits first for the request in flight to the same node, if any: that wait is bounded by
        the other request's own attempts.
        """
        if self.receive_error is not None:
            raise self.receive_error
        async with self._node_lock(address):
            return await self._request(address, deoj, esv, properties, get_properties)

    def _node_lock(self, address: Address) -> asyncio.Lock:
        lock = self._in_flight.get(address[0])
        if lock is None:
            lock = self._in_flight[address[0]] = asyncio.Lock()
        return lock

    async def _request(
        self,
        address: Address,
        deoj: EOJ,
        esv: ESV,
        properties: Sequence[Property],
        get_properties: Sequence[Property],
    ) -> Frame:
        loop = asyncio.get_running_loop()
        tid = self._next_tid()
        frame = Frame(
            tid=tid,
            seoj=self.seoj,
            deoj=deoj,
            esv=esv,
            properties=tuple(properties),
            get_properties=tuple(get_properties),
        )
        if self.receive_error is not None:
            raise self.receive_error
        pending = _Pending(loop.create_future(), address, deoj)
        self._pending[tid] = pending
        try:
            for _attempt in range(self.retries + 1):
                self._send(frame, address)
                # A plain timer per attempt: cheaper than wait_for(shield()) on every request.
                timer = loop.call_later(self.timeout_s, _expire, pending.future)
                try:
                    reply = await pending.future
                finally:
                    timer.cancel()
                if reply is not None:
                    return reply
                pending.future = loop.create_future()
        finally:
            self._pending.pop(tid, None)
            if not pending.future.done():
                pending.future.cancel()
        raise EchonetTimeout(
            tid=tid,
            attempts=self.retries + 1,
            timeout_s=self.timeout_s,
            peer=f"{address[0]}:{address[1]}",
            # What was asked, without the data written: "SETC 0x05FF01->0x027D01 [F0 EC DA]".
            request=f"{esv.name} {frame.seoj}->{frame.deoj} "
            f"[{' '.join(f'{p.epc:02X}' for p in frame.properties)}]",
        )

    async def collect(
        self, address: Address, deoj: EOJ, esv: ESV, properties: Sequence[Property], window_s: float
    ) -> list[tuple[Address, Frame]]:
        """Send once and gather every reply, with its source, within ``window_s``. A request to
        one node waits for the one in flight to it; one to the group waits for nobody."""
        if address[0] == MULTICAST_GROUP:
            return await self._collect(address, deoj, esv, properties, window_s)
        async with self._node_lock(address):
            return await self._collect(address, deoj, esv, properties, window_s)

    async def _collect(
        self, address: Address, deoj: EOJ, esv: ESV, properties: Sequence[Property], window_s: float
    ) -> list[tuple[Address, Frame]]:
        loop = asyncio.get_running_loop()
        tid = self._next_tid()
        frame = Frame(tid=tid, seoj=self.seoj, deoj=deoj, esv=esv, properties=tuple(properties))
        replies: list[tuple[Address, Frame]] = []
        self._pending[tid] = _Pending(loop.create_future(), address, deoj, collect=replies)
        try:
            self._send(frame, address)
            await asyncio.sleep(window_s)
        finally:
            self._pending.pop(tid, None)
        return replies

    async def get(self, address: Address, deoj: EOJ, epcs: Sequence[int]) -> dict[int, bytes]:
        """Get several EPCs in one frame; raises RemoteError if any is refused."""
        reply = await self.request(address, deoj, ESV.GET, [Property(epc) for epc in epcs])
        if reply.esv != ESV.GET_RES:
            raise RemoteError(reply)
        return {p.epc: p.edt for p in reply.properties}

    async def set_c(self, address: Address, deoj: EOJ, values: Sequence[Property]) -> Frame:
        """SetC; raises RemoteError if any property is refused (SetC_SNA)."""
        reply = await self.request(address, deoj, ESV.SETC, values)
        if reply.esv != ESV.SET_RES:
            raise RemoteError(reply)
        return reply

    async def set_get(
        self, address: Address, deoj: EOJ, values: Sequence[Property], epcs: Sequence[int]
    ) -> dict[int, bytes]:
        reply = await self.request(
            address, deoj, ESV.SETGET, values, [Property(epc) for epc in epcs]
        )
        if reply.esv != ESV.SETGET_RES:
            raise RemoteError(reply)
        return {p.epc: p.edt for p in reply.get_properties}

    async def discover(
        self, address: Address, window_s: float | None = None
    ) -> list[DiscoveredNode]:
        """Ask node profiles for their instance lists (0xD6); ``address`` may be the group."""
        replies = await self.collect(
            address,
            NODE_PROFILE,
            ESV.GET,
            [Property(EPC_SELF_NODE_INSTANCE_LIST_S)],
            self.timeout_s if window_s is None else window_s,
        )
        nodes: list[DiscoveredNode] = []
        for source, reply in replies:
            prop = reply.property(EPC_SELF_NODE_INSTANCE_LIST_S)
            if reply.esv == ESV.GET_RES and prop is not None:
                try:
                    instances = decode_instance_list(prop.edt)
                except DecodeError as exc:
                    self.decode_errors.append((source, prop.edt, f"instance list: {exc}"))
                    continue
                nodes.append(DiscoveredNode(source, instances))
        return nodes

    async def read_property_maps(self, address: Address, deoj: EOJ) -> PropertyMaps:
        raw = await self.get(address, deoj, [EPC_GET_MAP, EPC_SET_MAP, EPC_STATUS_CHANGE_MAP])
        return PropertyMaps(
            get=decode_property_map(raw[EPC_GET_MAP]),
            set=decode_property_map(raw[EPC_SET_MAP]),
            announce=decode_property_map(raw[EPC_STATUS_CHANGE_MAP]),
        )
