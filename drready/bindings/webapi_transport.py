"""The ECHONET Lite bindings' gateway, answered through a maker's cloud (ECHONET Lite Web API).

In the server topology the harness does not reach the device on the LAN: it calls the maker's
cloud, which speaks the ECHONET Lite Web API. The device's DRready logic is the same either way,
so the class bindings (:mod:`drready.bindings.echonet_battery`,
:mod:`drready.bindings.echonet_water_heater`) drive it unchanged: :class:`WebApiTransport`
answers the calls they make on their :class:`~drready.echonet.gateway.Gateway` (``get``,
``set_c``, ``discover``, ``read_property_maps``, ``silent``) with Web API requests:

* an EPC is its MRA ``shortName``, or, for a maker-specific EPC the profile maps, the name
  :mod:`drready.webapi.maker` gives it; values are converted JSON <-> EDT by
  :mod:`drready.webapi.values` (or the mapping's codec), so the binding decodes the same
  bytes it would have read on the LAN;
* a Get of one EPC is ``GET .../properties/{name}``; of several, ``GET .../properties?names=``;
  a SetC of one EPC is ``PUT .../properties/{name}``, of several one ``PUT .../properties``
  (the device takes a DR request whole, as from one SetC);
* the cloud refusing a value or a property (400, 404, 405) reads as the device's ``*_SNA``
  (:class:`CloudRefusal`, a :class:`~drready.echonet.errors.RemoteError`); a value the Web API
  cannot carry at all is refused the same way, without being sent;
* no answer, or 504 from the cloud, is a :class:`CloudTimeout`; a document that breaks its
  schema is recorded by the client (a *-1.2 finding, in the evidence) and fails the operation
  as :class:`CloudDocumentError`; any other refusal of the harness itself (401, 429) is a
  :class:`CloudError`. Each says in one line what happened.
* a comms cut (``silent``): every call fails at once, nothing reaches the cloud, so the device
  behind it hears nothing either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from drready.echonet.codec import EOJ, ESV, Frame, Property
from drready.echonet.errors import DecodeError, EchonetError, EchonetTimeout, RemoteError
from drready.echonet.gateway import DiscoveredNode, PropertyMaps
from drready.echonet.mapping import EpcMapping
from drready.echonet.properties import ClassDef, PropertyDef, load_class
from drready.echonet.transport import Address
from drready.webapi.client import (
    SchemaViolation,
    WebApiClient,
    WebApiConnectionError,
    WebApiError,
    WebApiHttpError,
)
from drready.webapi.maker import MakerProperty, maker_properties
from drready.webapi.values import ValueConversionError, edt_to_json, json_to_edt

__all__ = [
    "CloudDocumentError",
    "CloudError",
    "CloudRefusal",
    "CloudTimeout",
    "CommsCut",
    "WebApiTransport",
]

#: Answers that mean "the device (or the cloud for it) will not take this", as a ``*_SNA`` does:
#: a value it refuses (400), a property it does not serve (404), a read-only one (405).
_REFUSALS: Final = frozenset({400, 404, 405, 409, 422})
#: Answers that mean the device behind the cloud did not answer (RFC 9110 §15.6.5 504).
_TIMEOUTS: Final = frozenset({502, 503, 504})


def _one_line(text: str) -> str:
    return " ".join(text.split())


class CommsCut(RuntimeError):
    """The harness is silent (a comms cut by the test): nothing is sent to the cloud."""


class CloudRefusal(RemoteError):
    """The cloud refused a read or a write for the device: the Web API's ``*_SNA``."""

    def __init__(self, frame: Frame, detail: str) -> None:
        super().__init__(frame)
        self.detail = detail
        self.args = (detail,)

    def __reduce__(self) -> Any:
        return (type(self), (self.frame, self.detail))


class CloudTimeout(EchonetTimeout):
    """No answer from the cloud, or the cloud saying the device did not answer."""

    def __init__(self, message: str, timeout_s: float = 0.0) -> None:
        super().__init__(None, 1, timeout_s)
        self.args = (message,)

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.timeout_s))


class CloudDocumentError(DecodeError):
    """A document (or a value in it) from the cloud that breaks its schema or cannot convert."""


class CloudError(EchonetError):
    """The cloud refused the harness itself (credentials, rate limit) or failed (5xx)."""


class WebApiTransport:
    """Gateway calls of an ECHONET Lite binding, made on one device of a maker's cloud."""

    def __init__(
        self,
        client: WebApiClient,
        device_id: str,
        class_code: int,
        mapping: Mapping[str, EpcMapping],
        *,
        instance: int = 1,
    ) -> None:
        self.client = client
        self.device_id = device_id
        self.classdef: ClassDef = load_class(class_code)
        self.eoj = EOJ(class_code >> 8, class_code & 0xFF, instance)
        self.maker = maker_properties(mapping, self.classdef.properties)
        #: Where the binding thinks the device is: the cloud's host and port.
        host, _, port = client.peer.rpartition(":")
        self.address: Address = (host, int(port))
        #: A comms cut: every call fails at once (the Gateway's flag, same name).
        self.silent = False
        #: The harness's ECHONET Lite socket (the evidence bundle's pcapng): none of its own here.
        self.local_address: Address | None = None
        self._tid = 0

    # -- names and values --------------------------------------------------------------------
    def _prop(self, epc: int) -> PropertyDef | MakerProperty | None:
        if epc in self.maker:
            return self.maker[epc]
        return self.classdef.properties.get(epc)

    @staticmethod
    def _name(prop: PropertyDef | MakerProperty) -> str:
        return prop.name if isinstance(prop, MakerProperty) else prop.short_name

    def name_of(self, epc: int) -> str | None:
        """The Web API name of ``epc`` on this device (None: the Web API cannot reach it)."""
        prop = self._prop(epc)
        return None if prop is None else self._name(prop)

    def _to_edt(self, prop: PropertyDef | MakerProperty, value: Any) -> bytes:
        try:
            if isinstance(prop, MakerProperty):
                return prop.to_edt(value)
            return json_to_edt(prop, value)
        except ValueConversionError as exc:
            raise CloudDocumentError(
                f"the maker's cloud gave {self._name(prop)} = {value!r}, which does not convert "
                f"to EPC 0x{prop.epc:02X}: {_one_line(str(exc))}"
            ) from None

    def _to_json(self, prop: PropertyDef | MakerProperty, edt: bytes) -> Any:
        if isinstance(prop, MakerProperty):
            return prop.to_json(edt)
        return edt_to_json(prop, edt)

    # -- failures ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.silent:
            raise CommsCut("communication cut by the test: the harness does not call the cloud")

    def _frame(self, esv: ESV, deoj: EOJ, properties: Sequence[Property]) -> Frame:
        self._tid = (self._tid + 1) & 0xFFFF
        return Frame(self._tid, deoj, EOJ(0x05, 0xFF, 0x01), esv, tuple(properties))

    def _refusal(
        self, esv: ESV, deoj: EOJ, refused: Sequence[Property], detail: str
    ) -> CloudRefusal:
        return CloudRefusal(self._frame(esv, deoj, refused), _one_line(detail))

    def failure(self, exc: WebApiError, what: str) -> Exception:
        """The client's error as the binding understands it (refusals are handled by callers)."""
        if isinstance(exc, SchemaViolation):
            errors = "; ".join(exc.errors[:2])
            return CloudDocumentError(
                _one_line(
                    f"{what}: the maker's cloud sent a {exc.document_name} document that breaks "
                    f"its schema ({errors}); the document is in the evidence"
                )
            )
        if isinstance(exc, WebApiConnectionError):
            return CloudTimeout(_one_line(f"{what}: {exc}"), self.client.timeout_s)
        if isinstance(exc, WebApiHttpError) and exc.status in _TIMEOUTS:
            return CloudTimeout(_one_line(f"{what}: {exc}"), self.client.timeout_s)
        return CloudError(_one_line(f"{what}: {exc}"))

    # -- the Gateway's calls -------------------------------------------------------------------
    async def get(self, address: Address, deoj: EOJ, epcs: Sequence[int]) -> dict[int, bytes]:
        """A Get of ``epcs``; raises :class:`CloudRefusal` (as Get_SNA) if any is not given."""
        self._check_open()
        props = [self._prop(epc) if deoj == self.eoj else None for epc in epcs]
        unknown = [epc for epc, prop in zip(epcs, props, strict=True) if prop is None]
        if unknown:
            listed = ", ".join(f"0x{e:02X}" for e in unknown)
            raise self._refusal(
                ESV.GET_SNA,
                deoj,
                [Property(e) for e in epcs],
                f"Get refused: EPC {listed} of {deoj} has no Web API property on this device",
            )
        known = [p for p in props if p is not None]
        names = [self._name(p) for p in known]
        what = f"GET {', '.join(names)}"
        try:
            if len(names) == 1:
                values = {names[0]: await self.client.get(self.device_id, names[0])}
            else:
                values = await self.client.properties(self.device_id, names)
        except WebApiHttpError as exc:
            if exc.status in _REFUSALS:
                raise self._refusal(
                    ESV.GET_SNA, deoj, [Property(e) for e in epcs], f"{what} refused: {exc}"
                ) from None
            raise self.failure(exc, what) from None
        except WebApiError as exc:
            raise self.failure(exc, what) from None
        missing = [p.epc for p, n in zip(known, names, strict=True) if n not in values]
        if missing:
            given = [Property(p.epc, b"" if p.epc in missing else b"\x00") for p in known]
            listed = ", ".join(n for n in names if n not in values)
            raise self._refusal(ESV.GET_SNA, deoj, given, f"{what}: the cloud left out {listed}")
        return {p.epc: self._to_edt(p, values[n]) for p, n in zip(known, names, strict=True)}

    async def set_c(self, address: Address, deoj: EOJ, values: Sequence[Property]) -> None:
        """A SetC of ``values``, one control request; :class:`CloudRefusal` (as SetC_SNA) if
        the cloud or the device refuses it."""
        self._check_open()
        document: dict[str, Any] = {}
        for value in values:
            prop = self._prop(value.epc) if deoj == self.eoj else None
            if prop is None:
                raise self._refusal(
                    ESV.SETC_SNA,
                    deoj,
                    values,
                    f"SetC refused: EPC 0x{value.epc:02X} of {deoj} has no Web API property",
                )
            try:
                document[self._name(prop)] = self._to_json(prop, value.edt)
            except ValueConversionError as exc:
                raise self._refusal(
                    ESV.SETC_SNA,
                    deoj,
                    values,
                    f"not sent: 0x{value.epc:02X} = 0x{value.edt.hex()} has no Web API value "
                    f"({exc}); the cloud's schema refuses it",
                ) from None
        what = "PUT " + ", ".join(f"{k}={v!r}" for k, v in document.items())
        try:
            if len(document) == 1:
                ((name, value_json),) = document.items()
                await self.client.set(self.device_id, name, value_json)
            else:
                await self.client.set_many(self.device_id, document)
        except SchemaViolation as exc:
            if exc.direction == "request":  # ours, refused before sending: the schema says no
                raise self._refusal(
                    ESV.SETC_SNA, deoj, values, f"not sent: {what} breaks the schema: {exc}"
                ) from None
            raise self.failure(exc, what) from None
        except WebApiHttpError as exc:
            if exc.status in _REFUSALS:
                raise self._refusal(ESV.SETC_SNA, deoj, values, f"{what}: {exc}") from None
            raise self.failure(exc, what) from None
        except WebApiError as exc:
            raise self.failure(exc, what) from None

    async def discover(
        self, address: Address, window_s: float | None = None
    ) -> list[DiscoveredNode]:
        """The cloud's device list, as one node: this device is the binding's object when the
        list holds it (with the deviceType of its class)."""
        self._check_open()
        try:
            devices = await self.client.devices()
        except WebApiError as exc:
            raise self.failure(exc, "GET devices") from None
        ours = [
            d
            for d in devices
            if d.get("id") == self.device_id and d.get("deviceType") == self.classdef.short_name
        ]
        return [DiscoveredNode(self.address, (self.eoj,))] if ours else []

    async def read_property_maps(self, address: Address, deoj: EOJ) -> PropertyMaps:
        """The device description as property maps: every property, the writable ones, the
        observable ones."""
        self._check_open()
        try:
            description = await self.client.description(self.device_id)
        except WebApiError as exc:
            raise self.failure(exc, f"GET devices/{self.device_id}") from None
        entries = description["properties"]
        get = frozenset(int(e["epc"], 16) for e in entries.values())
        writable = frozenset(int(e["epc"], 16) for e in entries.values() if e["writable"])
        observable = frozenset(int(e["epc"], 16) for e in entries.values() if e["observable"])
        return PropertyMaps(get=get, set=writable, announce=observable)

    # -- beyond the Gateway --------------------------------------------------------------------
    async def value(self, name: str) -> Any:
        """One property's Web API value as the cloud gives it (failures as for ``get``)."""
        self._check_open()
        try:
            return await self.client.get(self.device_id, name)
        except WebApiError as exc:
            raise self.failure(exc, f"GET {name}") from None
