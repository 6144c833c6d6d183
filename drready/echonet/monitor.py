"""The protocol monitor: every frame from the device judged as it arrives, whichever test runs.

A :class:`ProtocolMonitor` is the gateway's :class:`~drready.echonet.observer.FrameObserver`. It
keeps its own account of the requests sent (by TID, with their destination and the number of
attempts: a retransmission reuses the TID), apart from the gateway's matching, so a bad reply
the gateway's retries absorbed is still judged. Each violation becomes a
:class:`~drready.evidence.Finding` against ``*-1.1`` with the evidence records of the frames
involved; the recorder files it under the test that was running.

What is judged, on each datagram from the device (ECHONET Lite Spec. Part 2 chapter 3 and 4.2.3):

* the reply's ESV fits the request (Get -> Get_Res/Get_SNA, SetC -> Set_Res/SetC_SNA, ...),
  its TID echoes a request sent to the host it comes from (any host, for a multicast request);
* SEOJ is the request's DEOJ (instance 0x00 stands for any instance of the class; a node
  profile is instance 0x01 or 0x02), DEOJ is the request's SEOJ;
* the reply lists the request's EPCs (in any order), with the PDC conventions of its ESV (see
  :func:`drready.echonet.errors.refused_epcs`);
* each value (Get_Res, INF, the Get block of SetGet) decodes by the MRA definition of its EPC
  for the sender's class: size and range. A value any release's definition accepts passes.
  Maker-specific EPCs (0xF0-0xFF) are not judged, and an EPC the profile maps a DRready item
  onto is judged by the mapping's size only (the maker declares how the firmware encodes it);
* once the object's property maps (0x9F/0x9E/0x9D) have been read, a Get refused for an EPC
  the Get map lists, a value served for one it does not list, and a status announcement (INF)
  of an EPC the announce map lacks;
* more replies to one request than attempts sent (per replying node and object, so the many
  answers to a multicast discovery are not duplicates), responses to no request, datagrams that
  do not decode.

The first :data:`FINDINGS_PER_RULE` findings of each rule are listed; the rest are counted in
:attr:`ProtocolMonitor.counts`, so a device that floods cannot fill the memory.

One idea past ~500 lines: every rule reads and updates the same account of requests, replies
and property maps, which splitting the module would pass through every call.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from drready.echonet.codec import (
    EOJ,
    ESV,
    MULTICAST_GROUP,
    Frame,
    Property,
    decode,
    decode_property_map,
)
from drready.echonet.errors import DecodeError
from drready.echonet.mapping import EpcMapping
from drready.echonet.node import EPC_GET_MAP, EPC_SET_MAP, EPC_STATUS_CHANGE_MAP
from drready.echonet.properties import (
    SUPERCLASS,
    PropertyDef,
    UnknownClassError,
    load_class,
    property_variants,
)
from drready.echonet.transport import Address
from drready.evidence import Finding

__all__ = [
    "FINDINGS_PER_RULE",
    "RULES",
    "ProtocolMonitor",
]

#: Findings listed per rule; later violations of the rule are only counted.
FINDINGS_PER_RULE: Final = 20
#: Requests remembered (most recent first out last): a reply to an older one is unsolicited.
REQUEST_HISTORY: Final = 1024
#: Values judged and remembered per (class, EPC, EDT): the same few values come back all run.
_EDT_CACHE_SIZE: Final = 4096

#: The rules, by the name a finding carries.
RULES: Final[Mapping[str, str]] = {
    "reply-esv": "the reply's ESV answers the request's service",
    "tid-echo": "a reply carries the TID of the request it answers",
    "unsolicited-response": "a response answers a request",
    "reply-source": "the reply comes from the host the request went to",
    "seoj": "the reply's SEOJ is the object asked (the request's DEOJ)",
    "deoj": "the reply's DEOJ is the asker (the request's SEOJ)",
    "property-list": "the reply lists the request's EPCs",
    "pdc": "PDC follows the service's convention (a value, or PDC 0)",
    "edt": "a value fits its property's MRA definition (size, range)",
    "get-map": "Get is served as the Get property map (0x9F) says",
    "announce-map": "status announcements are of EPCs in the announce map (0x9D)",
    "duplicate-response": "one reply per request attempt",
    "malformed-frame": "a datagram decodes as an ECHONET Lite frame",
}

_NODE_PROFILE_CLASS: Final = 0x0EF0
#: Instances a node profile may have: general node, transmission-only node (Part 2 §6.11).
_NODE_PROFILE_INSTANCES: Final = frozenset({0x01, 0x02})
#: First maker-specific EPC (Appendix: 0xF0-0xFF are the maker's to define).
_MAKER_EPCS: Final = 0xF0
#: The replies a request may draw: (success, refusal); INF answers INF_REQ.
_ANSWERS: Final[Mapping[ESV, frozenset[ESV]]] = {
    ESV.SETI: frozenset({ESV.SETI_SNA}),
    ESV.SETC: frozenset({ESV.SET_RES, ESV.SETC_SNA}),
    ESV.GET: frozenset({ESV.GET_RES, ESV.GET_SNA}),
    ESV.INF_REQ: frozenset({ESV.INF, ESV.INF_SNA}),
    ESV.SETGET: frozenset({ESV.SETGET_RES, ESV.SETGET_SNA}),
    ESV.INFC: frozenset({ESV.INFC_RES}),
}
_TWO_BLOCKS: Final = frozenset({ESV.SETGET, ESV.SETGET_RES, ESV.SETGET_SNA})


class _Block(enum.Enum):
    """What a reply's block holds, by the PDC conventions of Part 2 §3.2.5 and chapter 4."""

    #: Values read: every PDC > 0.
    VALUES = enum.auto()
    #: Writes acknowledged: every PDC 0.
    ACKS = enum.auto()
    #: A refused read: refused properties have PDC 0, the others carry their value.
    READ_REFUSAL = enum.auto()
    #: A refused write: refused properties echo the EDT asked (PDC != 0), accepted ones PDC 0.
    WRITE_REFUSAL = enum.auto()


_FIRST_BLOCK: Final[Mapping[ESV, _Block]] = {
    ESV.GET_RES: _Block.VALUES,
    ESV.INF: _Block.VALUES,
    ESV.SET_RES: _Block.ACKS,
    ESV.INFC_RES: _Block.ACKS,
    ESV.SETGET_RES: _Block.ACKS,
    ESV.GET_SNA: _Block.READ_REFUSAL,
    ESV.INF_SNA: _Block.READ_REFUSAL,
    ESV.SETC_SNA: _Block.WRITE_REFUSAL,
    ESV.SETI_SNA: _Block.WRITE_REFUSAL,
    ESV.SETGET_SNA: _Block.WRITE_REFUSAL,
}
#: The Get block of the SetGet family.
_SECOND_BLOCK: Final[Mapping[ESV, _Block]] = {
    ESV.SETGET_RES: _Block.VALUES,
    ESV.SETGET_SNA: _Block.READ_REFUSAL,
}
#: Replies to a Get (or SetGet's Get block): served as the Get property map says.
_GET_REPLIES: Final = frozenset({ESV.GET_RES, ESV.GET_SNA, ESV.SETGET_RES, ESV.SETGET_SNA})
_MAP_EPCS: Final = (EPC_GET_MAP, EPC_SET_MAP, EPC_STATUS_CHANGE_MAP)


@dataclass(slots=True)
class _Request:
    frame: Frame
    destination: Address
    #: Evidence records of each attempt sent.
    records: list[int]
    #: Replies so far, per (replying host, replying object).
    replies: dict[tuple[str, EOJ], int] = field(default_factory=dict)

    @property
    def multicast(self) -> bool:
        return self.destination[0] == MULTICAST_GROUP

    def fits_source(self, source: Address) -> bool:
        # By host: the port a node answers from is the gateway's business (it matches replies
        # at 3610 and at its own port), not a property of the frame.
        return self.multicast or source[0] == self.destination[0]

    def describe(self) -> str:
        epcs = " ".join(f"{p.epc:02X}" for p in self.frame.properties)
        return f"{self.frame.esv.name} TID 0x{self.frame.tid:04X} to {self.frame.deoj} [{epcs}]"


@dataclass(slots=True)
class _Maps:
    """An object's property maps as it served them (None: not read yet)."""

    get: frozenset[int] | None = None
    set: frozenset[int] | None = None
    announce: frozenset[int] | None = None


def _peer(address: Address) -> str:
    return f"{address[0]}:{address[1]}"


class _What:
    """The reply being judged, named in a finding's summary: formatted only when one is filed
    (most frames file none, and the monitor sees every datagram of a run)."""

    __slots__ = ("frame", "source")

    def __init__(self, frame: Frame, source: Address) -> None:
        self.frame = frame
        self.source = source

    def __str__(self) -> str:
        frame = self.frame
        return f"{frame.esv.name} TID 0x{frame.tid:04X} from {frame.seoj} at {_peer(self.source)}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _same_epcs(got: tuple[Property, ...], asked: tuple[Property, ...]) -> bool:
    # The same EPCs, in any order: stacks in the field (the npm echonet-lite module among them)
    # answer in their own order, and the specification gives no order a controller may rely on.
    if len(got) != len(asked):
        return False
    return sorted(p.epc for p in got) == sorted(p.epc for p in asked)


def _epc_list(props: Iterable[Property]) -> str:
    return " ".join(f"{p.epc:02X}" for p in props) or "none"


class ProtocolMonitor:
    """Judges every datagram the gateway receives against the requests it sent.

    ``findings`` is where violations go (the facade's ``DeviceUnderTest.findings``).
    ``device_host``, when given, is the device's IP address: datagrams from other hosts (the
    other nodes of a real LAN, answering a multicast or announcing themselves) are counted under
    ``"other-node"`` and not judged. ``excused`` is the link impairment's account of what it
    made. ``mapping`` is the profile's DRready item mapping: the EPCs
    it names are judged by the mapped size instead of their MRA definition.
    """

    def __init__(
        self,
        findings: list[Finding],
        *,
        device_host: str | None = None,
        mapping: Mapping[str, EpcMapping] | None = None,
        requirement: str = "*-1.1",
        findings_per_rule: int = FINDINGS_PER_RULE,
        excused: Callable[[bytes, Address], str | None] | None = None,
    ) -> None:
        self.findings = findings
        #: Asked of each datagram: why the harness's own link impairment, not the device,
        #: accounts for it (a copy it made, a TID it corrupted, a flooded INF); such a
        #: datagram is counted under ``"impaired"`` and not judged.
        self.excused = excused
        self.device_host = device_host
        self.requirement = requirement
        self.findings_per_rule = findings_per_rule
        #: Violations seen per rule (listed or not), and datagrams from other hosts.
        self.counts: dict[str, int] = {}
        #: Datagrams judged.
        self.frames = 0
        self._mapped_sizes: dict[int, int] = {
            item.epc: item.size for item in (mapping or {}).values() if item.epc < _MAKER_EPCS
        }
        self._requests: dict[int, _Request] = {}
        #: Per destination host, the TID of the latest request to it that has no reply yet.
        self._waiting: dict[str, int] = {}
        self._asked: set[str] = set()
        self._asked_multicast = False
        self._maps: dict[tuple[str, EOJ], _Maps] = {}
        self._definitions: dict[tuple[int, int], tuple[PropertyDef, ...]] = {}
        self._edt_problems: dict[tuple[int, int, bytes], str | None] = {}

    # -- FrameObserver -----------------------------------------------------------------------
    def sent(self, frame: Frame, destination: Address, record: int) -> None:
        if frame.esv not in _ANSWERS:
            return  # an INFC_Res acknowledgement: nothing answers it
        tid = frame.tid
        known = self._requests.get(tid)
        if known is not None and known.destination == destination and known.frame == frame:
            known.records.append(record)  # a retransmission
        else:
            if known is not None:
                del self._requests[tid]  # the TID came round again: a new request
            self._requests[tid] = _Request(frame, destination, [record])
            if len(self._requests) > REQUEST_HISTORY:
                del self._requests[next(iter(self._requests))]
            if destination[0] == MULTICAST_GROUP:
                self._asked_multicast = True
            else:
                self._asked.add(destination[0])
        self._waiting[destination[0]] = tid

    def received(self, data: bytes, source: Address, record: int) -> None:
        if self.device_host is not None and source[0] != self.device_host:
            self.counts["other-node"] = self.counts.get("other-node", 0) + 1
            return
        if self.excused is not None and self.excused(data, source) is not None:
            self.counts["impaired"] = self.counts.get("impaired", 0) + 1
            return
        self.frames += 1
        try:
            frame = decode(data)
        except DecodeError as exc:
            self._file(
                "malformed-frame",
                f"undecodable datagram from {_peer(source)} ({len(data)} bytes "
                f"{data[:16].hex().upper()}{'...' if len(data) > 16 else ''}): {exc}",
                (record,),
            )
            return
        if type(frame) is not Frame:
            return  # arbitrary message format (EHD2 0x82): legal, and opaque to us
        esv = frame.esv
        if esv is ESV.INF or esv is ESV.INFC:
            request = self._requests.get(frame.tid)
            if (
                esv is ESV.INF
                and request is not None
                and request.frame.esv is ESV.INF_REQ
                and request.fits_source(source)
            ):
                self._reply(frame, source, record, request)
            else:
                self._notification(frame, source, record)
        elif esv.is_response:
            request = self._requests.get(frame.tid)
            if request is None or not request.fits_source(source):
                self._stray(frame, source, record, request)
            else:
                self._reply(frame, source, record, request)
        # A request from the device (it may ask the controller) is not ours to judge.

    # -- what was found ------------------------------------------------------------------------
    def summary(self) -> str:
        """One line: the violations counted per rule (``"no violations"`` if none)."""
        rules = {rule: n for rule, n in self.counts.items() if rule in RULES}
        if not rules:
            return f"no violations in {self.frames} datagram(s)"
        listed = ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items()))
        return f"{sum(rules.values())} violation(s) in {self.frames} datagram(s): {listed}"

    def _file(self, rule: str, summary: str, records: tuple[int, ...]) -> None:
        count = self.counts.get(rule, 0) + 1
        self.counts[rule] = count
        if count <= self.findings_per_rule:
            self.findings.append(Finding(self.requirement, summary, records, rule))
        elif count == self.findings_per_rule + 1:
            self.findings.append(
                Finding(
                    self.requirement,
                    f"{rule}: more violations follow; past the first {self.findings_per_rule} "
                    "they are counted, not listed",
                    records,
                    rule,
                )
            )

    # -- responses -----------------------------------------------------------------------------
    def _stray(self, frame: Frame, source: Address, record: int, request: _Request | None) -> None:
        """A response whose TID matches no request sent to ``source``."""
        what = _What(frame, source)
        if request is not None:
            self._file(
                "reply-source",
                f"{what}: that TID was sent to {_peer(request.destination)} "
                f"({request.describe()}), not to {_peer(source)}",
                (*request.records, record),
            )
        elif source[0] not in self._asked and not self._asked_multicast:
            self._file(
                "reply-source",
                f"{what}: the harness never sent a request to that address",
                (record,),
            )
        else:
            waiting_tid = self._waiting.get(source[0])
            waiting = None if waiting_tid is None else self._requests.get(waiting_tid)
            if waiting is not None and not waiting.replies:
                self._file(
                    "tid-echo",
                    f"{what}: no request carried that TID; expected TID 0x{waiting_tid:04X} of "
                    f"the request waiting for a reply there ({waiting.describe()})",
                    (*waiting.records, record),
                )
            else:
                self._file(
                    "unsolicited-response",
                    f"{what}: no request with that TID was sent there",
                    (record,),
                )

    def _reply(self, frame: Frame, source: Address, record: int, request: _Request) -> None:
        key = (source[0], frame.seoj)
        count = request.replies.get(key, 0) + 1
        request.replies[key] = count
        if self._waiting.get(source[0]) == frame.tid:
            del self._waiting[source[0]]
        records = (*request.records, record)
        asked = request.frame
        what = _What(frame, source)
        attempts = len(request.records)
        if count > attempts:
            self._file(
                "duplicate-response",
                f"{what}: reply {count} to {request.describe()}, which was sent {attempts} time(s)",
                records,
            )
            return
        if frame.esv not in _ANSWERS[asked.esv]:
            allowed = "/".join(sorted(esv.name for esv in _ANSWERS[asked.esv]))
            self._file(
                "reply-esv",
                f"{what}: expected {allowed} for {request.describe()}, got {frame.esv.name}",
                records,
            )
            return
        if not self._object_fits(asked.deoj, frame.seoj):
            self._file(
                "seoj",
                f"{what}: expected SEOJ {asked.deoj} (the object asked by "
                f"{request.describe()}), got {frame.seoj}",
                records,
            )
        if frame.deoj != asked.seoj:
            self._file(
                "deoj",
                f"{what}: expected DEOJ {asked.seoj} (the asker), got {frame.deoj}",
                records,
            )
        two_blocks = frame.esv in _TWO_BLOCKS
        if not _same_epcs(frame.properties, asked.properties) or (
            two_blocks and not _same_epcs(frame.get_properties, asked.get_properties)
        ):
            block = ""
            if two_blocks:
                block = (
                    f" / get [{_epc_list(frame.get_properties)}] vs "
                    f"[{_epc_list(asked.get_properties)}]"
                )
            self._file(
                "property-list",
                f"{what}: expected the request's EPCs [{_epc_list(asked.properties)}], "
                f"got [{_epc_list(frame.properties)}]{block}",
                records,
            )
            return
        self._judge_blocks(frame, source, what, records)

    def _object_fits(self, asked: EOJ, seoj: EOJ) -> bool:
        if seoj is asked or seoj == asked:
            return True
        if asked.instance != 0 or seoj.instance == 0:
            return False
        if (seoj.class_group, seoj.class_code) != (asked.class_group, asked.class_code):
            return False
        return seoj.class_id != _NODE_PROFILE_CLASS or seoj.instance in _NODE_PROFILE_INSTANCES

    def _judge_blocks(
        self, frame: Frame, source: Address, what: _What, records: tuple[int, ...]
    ) -> None:
        """PDC conventions, values and the Get map, for a reply that lists the right EPCs."""
        esv = frame.esv
        refused = 0
        problem = ""
        get_block: tuple[Property, ...] = ()
        for block, kind in (
            (frame.properties, _FIRST_BLOCK[esv]),
            (frame.get_properties, _SECOND_BLOCK.get(esv)),
        ):
            if kind is None:
                break
            empty = [p.epc for p in block if not p.edt]
            if kind is _Block.VALUES:
                if empty:
                    problem = (
                        f"EPC {_hex(empty)} served with PDC 0 (no value); a property that "
                        "cannot be read makes the reply an SNA"
                    )
            elif kind is _Block.ACKS:
                if len(empty) != len(block):
                    sizes = ", ".join(f"0x{p.epc:02X} PDC {p.pdc}" for p in block if p.edt)
                    problem = f"an accepted write is acknowledged with PDC 0, got {sizes}"
                continue  # nothing served
            elif kind is _Block.READ_REFUSAL:
                refused += len(empty)
            else:
                refused += len(block) - len(empty)
                continue  # a refused write echoes what was asked, not a value
            self._judge_edts(frame.seoj.class_id, block, what, records)
            get_block = block
        if esv.is_sna and not refused:
            problem = (
                "no property is marked refused (PDC 0 for a read, the EDT echoed for a write), "
                "so the request should have succeeded"
            )
        if problem:
            self._file("pdc", f"{what}: {problem}", records)
        if esv in _GET_REPLIES:
            self._judge_get_map(frame, source, get_block, what, records)

    def _judge_get_map(
        self,
        frame: Frame,
        source: Address,
        served: tuple[Property, ...],
        what: _What,
        records: tuple[int, ...],
    ) -> None:
        maps = self._learn_maps(source, frame.seoj, served)
        if maps is None or maps.get is None:
            return
        get_map = maps.get
        refused = [p.epc for p in served if not p.edt and p.epc in get_map]
        if refused:
            self._file(
                "get-map",
                f"{what}: refused EPC {_hex(refused)}, which the Get property map (0x9F) lists",
                records,
            )
        unlisted = [p.epc for p in served if p.edt and p.epc not in get_map]
        if unlisted:
            self._file(
                "get-map",
                f"{what}: served EPC {_hex(unlisted)}, which the Get property map (0x9F) "
                "does not list",
                records,
            )

    def _learn_maps(self, source: Address, seoj: EOJ, served: tuple[Property, ...]) -> _Maps | None:
        key = (source[0], seoj)
        maps = self._maps.get(key)
        for prop in served:
            if prop.epc in _MAP_EPCS and prop.edt:
                try:
                    epcs = decode_property_map(prop.edt)
                except DecodeError:
                    continue  # judged as a value by the MRA definition of the map
                if maps is None:
                    maps = self._maps[key] = _Maps()
                if prop.epc == EPC_GET_MAP:
                    maps.get = epcs
                elif prop.epc == EPC_SET_MAP:
                    maps.set = epcs
                else:
                    maps.announce = epcs
        return maps

    # -- notifications -------------------------------------------------------------------------
    def _notification(self, frame: Frame, source: Address, record: int) -> None:
        what = _What(frame, source)
        empty = [p.epc for p in frame.properties if p.pdc == 0]
        if empty:
            self._file(
                "pdc", f"{what}: announced EPC {_hex(empty)} with PDC 0 (no value)", (record,)
            )
        self._judge_edts(frame.seoj.class_id, frame.properties, what, (record,))
        if frame.esv is not ESV.INF:
            return
        maps = self._maps.get((source[0], frame.seoj))
        if maps is None or maps.announce is None:
            return
        unlisted = [p.epc for p in frame.properties if p.epc not in maps.announce]
        if unlisted:
            self._file(
                "announce-map",
                f"{what}: announced EPC {_hex(unlisted)}, which the status change announcement "
                "property map (0x9D) does not list",
                (record,),
            )

    # -- values ----------------------------------------------------------------------------------
    def _judge_edts(
        self, class_id: int, props: tuple[Property, ...], what: _What, records: tuple[int, ...]
    ) -> None:
        for prop in props:
            if not prop.edt or prop.epc >= _MAKER_EPCS:
                continue
            key = (class_id, prop.epc, prop.edt)
            cache = self._edt_problems
            if key in cache:
                problem = cache[key]
            else:
                problem = self._edt_problem(class_id, prop.epc, prop.edt)
                if len(cache) >= _EDT_CACHE_SIZE:
                    cache.clear()
                cache[key] = problem
            if problem is not None:
                self._file(
                    "edt",
                    f"{what}: EPC 0x{prop.epc:02X} EDT {prop.edt.hex().upper()} "
                    f"({prop.pdc} byte(s)) {problem}",
                    records,
                )

    def _edt_problem(self, class_id: int, epc: int, edt: bytes) -> str | None:
        if class_id != _NODE_PROFILE_CLASS and epc in self._mapped_sizes:
            size = self._mapped_sizes[epc]
            if len(edt) != size:
                return f"does not fit the profile's mapping: expected {size} byte(s)"
            return None
        definitions = self._definitions_of(class_id, epc)
        first: str | None = None
        for definition in definitions:
            try:
                definition.data.decode(edt)
            except (DecodeError, ValueError) as exc:
                if first is None:
                    first = f"does not fit {definition.short_name} (MRA): {exc}"
                continue
            return None
        return first

    def _definitions_of(self, class_id: int, epc: int) -> tuple[PropertyDef, ...]:
        """The MRA definitions of ``epc`` in ``class_id``: the newest release's first, then the
        other releases' (a value any of them accepts passes); () when the MRA has none."""
        key = (class_id, epc)
        known = self._definitions.get(key)
        if known is not None:
            return known
        try:
            classdef = load_class(class_id)
        except (UnknownClassError, ValueError):
            definitions: tuple[PropertyDef, ...] = ()
        else:
            newest = classdef.properties.get(epc)
            variants = [p for p in property_variants(class_id) if p.epc == epc]
            inherits = class_id >> 8 != _NODE_PROFILE_CLASS >> 8 and class_id != SUPERCLASS
            if not variants and inherits:
                # The class file never redefines it: the superclass's entries are the definition.
                variants = [p for p in property_variants(SUPERCLASS) if p.epc == epc]
            ordered = [] if newest is None else [newest]
            definitions = tuple(ordered + [p for p in variants if p is not newest])
        if len(self._definitions) < 0x10000:
            self._definitions[key] = definitions
        return definitions


def _hex(epcs: Iterable[int]) -> str:
    return ", ".join(f"0x{epc:02X}" for epc in epcs)
