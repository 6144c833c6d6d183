"""The reference maker's cloud: devices and their properties as an ECHONET Lite Web API, over TLS.

In the server topology the harness is an HTTP client of the cloud a maker runs in front of its
devices. This is that cloud, for the simulators: an aiohttp server shaped on the ECHONET Lite
Web API (``/elapi/v1/devices``, ``.../devices/{id}``, ``.../devices/{id}/properties`` and
``.../properties/{propertyName}``, JSON bodies named by MRA ``shortName``), with the security a
conforming cloud has, each part of which a :class:`MakerCloudConfig` switch can take away.

Two additions to the Guideline's shape, both optional for a client: ``GET .../properties?names=a,b``
answers those properties only (a status read is one request, and one ECHONET Lite Get behind it),
and ``PUT .../properties`` with a properties document writes several properties as one control
request the device takes whole or not at all (one SetC): a DR request is a target power with its
mode and duration, which the device must see together.

* **TLS only** (``also_plain_http`` adds a plain-HTTP port serving everything).
* **OAuth 2.0 client credentials** (RFC 6749 §4.4) at ``POST /oauth/token``: client
  authentication by HTTP Basic (§2.3.1) or form fields, ``grant_type=client_credentials``; the
  answer is a bearer token (RFC 6750) that every ``/elapi`` request carries
  (``require_auth``; ``check_credentials`` off accepts any credentials and any token).
* **Replay guard** on control requests (PUT/POST/PATCH/DELETE): headers ``X-Request-Id``
  (unique per request) and ``Date`` (RFC 9110 §6.6.1 HTTP-date, within ``±skew_s`` of the
  cloud's clock). A reused id or a stale or missing date is refused with 409/400, and the
  request is not executed (``replay_guard``).
* **Lockout of bad credentials** (JC-STAR ★1 S1.1-04): after ``max_failed_auth`` failed
  authentications (wrong client credentials, unknown or expired bearer token) from one peer
  address within ``failure_window_s``, every request from it gets 429 with ``Retry-After`` for
  ``lockout_s``, correct credentials included (``rate_limit``).
* **Identity withheld**: the unit's identity (properties ``id``, ``manufacturer``,
  ``businessFacilityCode``, ``productCode``, ``serialNumber``, and ``manufacturer`` in the device
  list) is never served to an unauthenticated peer (``identity_public`` serves it to anyone).
  Device ids in URLs are the opaque keys the cloud is given, never the serial number.
* **Valid documents** (``malformed_documents`` names documents answered broken, see
  :data:`MALFORMATIONS`).

Errors are ``{"type": "...Error", "message": "..."}`` documents (RFC 6749 §5.2 ones from the
token endpoint): 400 ``typeError`` (body breaks its schema), ``rangeError`` (bad query),
``deviceError`` (the device refused), ``requestError`` (replay headers missing); 401
``authError``; 404 ``referenceError``; 405 ``readOnlyError``; 409 ``replayError``; 429
``rateLimitError``; 504 ``timeoutError``. A :class:`DeviceBackend` stands behind each device id:
:class:`EchonetBridgeBackend` bridges to a real ECHONET Lite device through drready's own
:class:`~drready.echonet.gateway.Gateway`; :class:`InMemoryBackend` holds values in memory (both
in :mod:`drready.simulators.maker_cloud_backends`).

One idea past ~500 lines: the cloud's HTTP face (routes, authentication and each protection a
fault switches off). Its device backends are in :mod:`drready.simulators.maker_cloud_backends`,
the pairing with a reference device in :mod:`drready.simulators.maker_cloud_runtime`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import math
import re
import secrets
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import unquote_plus

from aiohttp import web
from drready.simulators.maker_cloud_backends import (
    DeviceBackend,
    DeviceUnavailable,
    EchonetBridgeBackend,
    InMemoryBackend,
    PropertyInfo,
    PropertyRefused,
)

from drready.echonet.properties import load_class
from drready.evidence import EvidenceLog
from drready.evidence.http import evidence_middleware
from drready.webapi import validation as schemas

__all__ = [
    "API_PREFIX",
    "IDENTITY_PROPERTIES",
    "MALFORMATIONS",
    "TOKEN_PATH",
    "DeviceBackend",
    "DeviceUnavailable",
    "EchonetBridgeBackend",
    "InMemoryBackend",
    "MakerCloud",
    "MakerCloudConfig",
    "MakerCloudError",
    "PropertyInfo",
    "PropertyRefused",
]

#: ECHONET Lite Web API Guideline (API specification part): the API root and its version.
API_PREFIX: Final = "/elapi/v1"
#: Our choice for the OAuth 2.0 token endpoint (RFC 6749 §3.2 leaves the path to the server).
TOKEN_PATH: Final = "/oauth/token"
#: Properties that identify the unit (superclass 0x83, 0x8A, 0x8B, 0x8C, 0x8D).
IDENTITY_PROPERTIES: Final = frozenset(
    {"id", "manufacturer", "businessFacilityCode", "productCode", "serialNumber"}
)
#: Documents ``malformed_documents`` can break, and how each is broken.
MALFORMATIONS: Final[Mapping[str, str]] = {
    schemas.DEVICES: "no hasMore, limit as a string",
    schemas.DEVICE: "no eoj, writable as a string",
    schemas.PROPERTIES: "every value as a string, plus a null value",
    schemas.PROPERTY: "two members, none named after the property",
    schemas.ERROR: "{code, detail} instead of {type, message}",
    schemas.TOKEN: "no token_type, expires_in as a string",
}
_CONTROL_METHODS: Final = frozenset({"PUT", "POST", "PATCH", "DELETE"})
_REQUEST_ID = re.compile(r"[\x21-\x7E]{1,128}")
_DEVICE_ID = re.compile(r"[A-Za-z0-9._~-]+")
_MAX_PAGE: Final = 100


class MakerCloudError(RuntimeError):
    """Something went wrong inside the cloud itself (recorded, re-raised by ``check()``)."""


@dataclass
class MakerCloudConfig:
    """The cloud's behaviour: secure by default, one switch per insecurity."""

    client_id: str = "drready-harness"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token_lifetime_s: int = 3600
    #: Every /elapi request needs a valid bearer token.
    require_auth: bool = True
    #: Off: any client credentials get a token and any bearer token is accepted.
    check_credentials: bool = True
    #: Control requests need a fresh X-Request-Id and a Date within ±skew_s.
    replay_guard: bool = True
    skew_s: float = 300.0
    #: Lock a peer out after repeated failed authentications (JC-STAR S1.1-04).
    rate_limit: bool = True
    max_failed_auth: int = 5
    failure_window_s: float = 60.0
    lockout_s: float = 300.0
    #: Also serve everything over plain HTTP, on a second port.
    also_plain_http: bool = False
    #: Serve the unit's identity to unauthenticated peers.
    identity_public: bool = False
    #: Documents answered broken (names from :data:`MALFORMATIONS`).
    malformed_documents: frozenset[str] = frozenset()
    #: Longest wait for a device behind the cloud.
    device_timeout_s: float = 10.0
    #: How long each answer takes (a seeded run's HTTP latency, s); 0, at once.
    latency_s: float = 0.0

    def __post_init__(self) -> None:
        unknown = set(self.malformed_documents) - set(MALFORMATIONS)
        if unknown:
            raise ValueError(f"unknown malformed_documents {sorted(unknown)}")
        if self.max_failed_auth < 1 or self.lockout_s <= 0 or self.skew_s <= 0:
            raise ValueError("max_failed_auth, lockout_s and skew_s must be positive")


def _malform(name: str, document: Any) -> Any:
    """The document ``name`` broken the way :data:`MALFORMATIONS` says."""
    broken = json.loads(json.dumps(document))
    if name == schemas.DEVICES:
        broken.pop("hasMore", None)
        broken["limit"] = str(broken.get("limit"))
    elif name == schemas.DEVICE:
        broken.pop("eoj", None)
        for entry in broken.get("properties", {}).values():
            entry["writable"] = "yes" if entry.get("writable") else "no"
    elif name == schemas.PROPERTIES:
        broken = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in broken.items()}
        broken["unknownValue"] = None
    elif name == schemas.PROPERTY:
        ((key, value),) = broken.items()
        broken = {"name": key, "value": value}
    elif name == schemas.ERROR:
        broken = {"code": broken.get("type"), "detail": broken.get("message")}
    elif name == schemas.TOKEN:
        broken.pop("token_type", None)
        broken["expires_in"] = str(broken.get("expires_in"))
    return broken


class _Lockout:
    """Failed authentications per peer address, on the loop's clock."""

    def __init__(self, config: MakerCloudConfig) -> None:
        self._config = config
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def retry_after_s(self, peer: str, now: float) -> int | None:
        until = self._locked_until.get(peer)
        if until is None or not self._config.rate_limit:
            return None
        if now >= until:
            del self._locked_until[peer]
            return None
        return max(1, math.ceil(until - now))

    def failed(self, peer: str, now: float) -> None:
        if not self._config.rate_limit:
            return
        window = self._failures.setdefault(peer, deque())
        window.append(now)
        while window and window[0] < now - self._config.failure_window_s:
            window.popleft()
        if len(window) >= self._config.max_failed_auth:
            self._locked_until[peer] = now + self._config.lockout_s
            window.clear()


class MakerCloud:
    """The reference maker's cloud, an async context manager; ``start()`` gives the base URL.

    With ``ssl_context=None`` the cloud makes its own test CA (trustme, per instance): give
    clients :meth:`client_ssl_context`.
    """

    def __init__(
        self,
        devices: Mapping[str, DeviceBackend],
        config: MakerCloudConfig | None = None,
        *,
        evidence: EvidenceLog | None = None,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        for device_id in devices:
            if not _DEVICE_ID.fullmatch(device_id):
                raise ValueError(f"device id {device_id!r} is not URL-safe")
        self.devices = dict(devices)
        self.config = config or MakerCloudConfig()
        self.evidence = evidence
        self.host = host
        self.port = port
        self.ca: Any = None
        if ssl_context is None:
            import trustme

            self.ca = trustme.CA()
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert(host).configure_cert(ssl_context)
        self._ssl_context = ssl_context
        self._tokens: dict[str, float] = {}  # token -> expiry (loop time)
        self._seen_request_ids: dict[str, float] = {}  # id -> when it may be forgotten
        self._lockout = _Lockout(self.config)
        self._runner: web.AppRunner | None = None
        self._errors: list[BaseException] = []
        self.url: str | None = None
        self.plain_url: str | None = None
        self.executed: list[tuple[str, str, Any]] = []  # (device id, property, value) written

    # -- lifecycle ------------------------------------------------------------------------
    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting this cloud's own CA (only when it made one)."""
        if self.ca is None:
            raise MakerCloudError("this cloud was given its TLS context: trust its CA yourself")
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    async def start(self) -> str:
        if self.url is not None:
            return self.url
        middlewares: list[Any] = []
        if self.evidence is not None:
            middlewares.append(evidence_middleware(self.evidence))
        middlewares.append(self._guard)
        app = web.Application(middlewares=middlewares)
        prefix = API_PREFIX
        app.router.add_post(TOKEN_PATH, self._token)
        app.router.add_get(f"{prefix}/devices", self._devices)
        app.router.add_get(f"{prefix}/devices/{{device}}", self._description)
        app.router.add_get(f"{prefix}/devices/{{device}}/properties", self._properties)
        app.router.add_get(f"{prefix}/devices/{{device}}/properties/{{name}}", self._get)
        app.router.add_put(f"{prefix}/devices/{{device}}/properties/{{name}}", self._put)
        app.router.add_put(f"{prefix}/devices/{{device}}/properties", self._put_many)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._ssl_context)
        await site.start()
        self.url = f"https://{self.host}:{_port_of(site)}"
        if self.config.also_plain_http:
            plain = web.TCPSite(self._runner, self.host, 0)
            await plain.start()
            self.plain_url = f"http://{self.host}:{_port_of(plain)}"
        return self.url

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def check(self) -> None:
        """Re-raise the first error the cloud hit while serving (a bug, not a device fault)."""
        if self._errors:
            raise MakerCloudError(f"the maker cloud failed: {self._errors[0]!r}") from (
                self._errors[0]
            )

    # -- answers --------------------------------------------------------------------------
    def _document(
        self,
        name: str,
        document: Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        if name in self.config.malformed_documents:
            document = _malform(name, document)
        else:
            found = schemas.problems(name, document)
            if found:
                self._errors.append(MakerCloudError(f"own {name} document invalid: {found}"))
        response = web.json_response(document, status=status)
        response.headers.update(headers or {})
        return response

    def _error(
        self, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
    ) -> Any:
        return self._document(schemas.ERROR, {"type": kind, "message": message}, status, headers)

    def _oauth_error(
        self, status: int, code: str, description: str, headers: Mapping[str, str] | None = None
    ) -> Any:
        document = {"error": code, "error_description": description}
        return self._document(schemas.ERROR, document, status, headers)

    # -- security -------------------------------------------------------------------------
    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    @staticmethod
    def _peer(request: web.Request) -> str:
        return request.remote or "?"

    def _token_valid(self, token: str) -> bool:
        if not self.config.check_credentials:
            return bool(token)
        expiry = self._tokens.get(token)
        return expiry is not None and self._now() < expiry

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]
    ) -> Any:
        if self.config.latency_s > 0:
            await asyncio.sleep(self.config.latency_s)
        try:
            return await self._guarded(request, handler)
        except web.HTTPException:
            raise
        except Exception as exc:
            self._errors.append(exc)
            return self._error(500, "serverError", "internal error")

    async def _guarded(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]
    ) -> Any:
        peer, now = self._peer(request), self._now()
        retry_after = self._lockout.retry_after_s(peer, now)
        if retry_after is not None:
            return self._error(
                429,
                "rateLimitError",
                "too many failed authentications; try later",
                {"Retry-After": str(retry_after)},
            )
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        authenticated = self._authenticated(request)
        presented = bool(request.headers.get("Authorization"))
        if presented and not authenticated and self.config.require_auth:
            self._lockout.failed(peer, now)
            return self._error(
                401,
                "authError",
                "invalid or expired access token",
                {"WWW-Authenticate": 'Bearer realm="elapi", error="invalid_token"'},
            )
        if not authenticated and not self._open_to_anyone(request):
            return self._error(
                401,
                "authError",
                "an access token is required",
                {"WWW-Authenticate": 'Bearer realm="elapi"'},
            )
        if request.method in _CONTROL_METHODS and self.config.replay_guard:
            refused = self._replay_refusal(request)
            if refused is not None:
                return refused
        return await handler(request)

    def _open_to_anyone(self, request: web.Request) -> bool:
        name = request.match_info.get("name")
        identity = request.method == "GET" and (
            name in IDENTITY_PROPERTIES or request.path == f"{API_PREFIX}/devices"
        )
        if identity and self.config.identity_public:
            return True
        if name in IDENTITY_PROPERTIES:
            return False
        return not self.config.require_auth

    def _authenticated(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self._token_valid(token.strip())

    def _shows_identity(self, request: web.Request) -> bool:
        return self.config.identity_public or self._authenticated(request)

    def _replay_refusal(self, request: web.Request) -> Any:
        request_id = request.headers.get("X-Request-Id", "")
        date_text = request.headers.get("Date", "")
        if not _REQUEST_ID.fullmatch(request_id) or not date_text:
            return self._error(400, "requestError", "X-Request-Id and Date are required")
        try:
            sent = parsedate_to_datetime(date_text)
        except (TypeError, ValueError):
            return self._error(400, "requestError", f"Date {date_text!r} is not an HTTP-date")
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)
        skew = abs((datetime.now(UTC) - sent).total_seconds())
        if skew > self.config.skew_s:
            return self._error(
                409, "replayError", f"Date is {skew:.0f} s off (at most {self.config.skew_s:.0f})"
            )
        now = self._now()
        for seen, forget_at in list(self._seen_request_ids.items()):
            if forget_at <= now:
                del self._seen_request_ids[seen]
        if request_id in self._seen_request_ids:
            return self._error(409, "replayError", f"X-Request-Id {request_id!r} was used before")
        # An id older than the skew window comes with a stale Date, so it can be forgotten then.
        self._seen_request_ids[request_id] = now + 2 * self.config.skew_s
        return None

    # -- token endpoint -------------------------------------------------------------------
    def _client_credentials(
        self, request: web.Request, form: Mapping[str, str]
    ) -> tuple[str, str] | None:
        authorization = request.headers.get("Authorization", "")
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            client_id, sep, secret = decoded.partition(":")
            # RFC 6749 §2.3.1: both parts are form-urlencoded inside the Basic credentials.
            return (unquote_plus(client_id), unquote_plus(secret)) if sep else None
        if "client_id" in form and "client_secret" in form:
            return form["client_id"], form["client_secret"]
        return None

    async def _token(self, request: web.Request) -> Any:
        peer, now = self._peer(request), self._now()
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if form.get("grant_type") != "client_credentials":
            return self._oauth_error(400, "unsupported_grant_type", "use client_credentials")
        credentials = self._client_credentials(request, form)
        config = self.config
        valid = credentials is not None and (
            not config.check_credentials
            or (
                hmac.compare_digest(credentials[0].encode(), config.client_id.encode())
                and hmac.compare_digest(credentials[1].encode(), config.client_secret.encode())
            )
        )
        if not valid:
            self._lockout.failed(peer, now)
            return self._oauth_error(
                401,
                "invalid_client",
                "client authentication failed",
                {"WWW-Authenticate": 'Basic realm="oauth"'},
            )
        token = secrets.token_urlsafe(32)
        self._tokens = {t: e for t, e in self._tokens.items() if e > now}
        self._tokens[token] = now + config.token_lifetime_s
        document = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": config.token_lifetime_s,
        }
        # RFC 6749 §5.1: token responses must not be cached.
        return self._document(schemas.TOKEN, document, 200, {"Cache-Control": "no-store"})

    # -- the Web API ----------------------------------------------------------------------
    def _backend(self, request: web.Request) -> DeviceBackend:
        device_id = request.match_info["device"]
        backend = self.devices.get(device_id)
        if backend is None:
            raise _Answer(self._error(404, "referenceError", f"no device {device_id!r}"))
        return backend

    def _property(self, request: web.Request, backend: DeviceBackend) -> PropertyInfo:
        name = request.match_info["name"]
        if name not in backend.property_names():
            raise _Answer(self._error(404, "referenceError", f"no property {name!r}"))
        return backend.info(name)

    async def _read(self, backend: DeviceBackend, name: str) -> Any:
        try:
            return await asyncio.wait_for(backend.get(name), self.config.device_timeout_s)
        except TimeoutError as exc:
            raise DeviceUnavailable(f"{name}: no answer") from exc

    async def _devices(self, request: web.Request) -> Any:
        try:
            limit = int(request.query.get("limit", _MAX_PAGE))
            offset = int(request.query.get("offset", 0))
        except ValueError:
            return self._error(400, "rangeError", "limit and offset are integers")
        if not (1 <= limit <= _MAX_PAGE and offset >= 0):
            return self._error(400, "rangeError", f"limit is 1..{_MAX_PAGE}, offset >= 0")
        ids = sorted(self.devices)
        page = ids[offset : offset + limit]
        entries = []
        for device_id in page:
            backend = self.devices[device_id]
            names = backend.property_names()
            entry: dict[str, Any] = {"id": device_id, "deviceType": backend.device_type}
            entry["protocol"] = {"type": "ECHONET_Lite", "version": "Rel.?"}
            with contextlib.suppress(PropertyRefused, DeviceUnavailable):
                if "protocol" in names:
                    entry["protocol"] = await self._read(backend, "protocol")
                if "manufacturer" in names and self._shows_identity(request):
                    entry["manufacturer"] = await self._read(backend, "manufacturer")
            entries.append(entry)
        document = {
            "devices": entries,
            "hasMore": offset + limit < len(ids),
            "limit": limit,
            "offset": offset,
        }
        return self._document(schemas.DEVICES, document)

    async def _description(self, request: web.Request) -> Any:
        try:
            backend = self._backend(request)
        except _Answer as answer:
            return answer.response
        classdef = load_class(backend.class_id)
        writable = backend.writable_names()
        entries = {}
        for name in backend.property_names():
            info = backend.info(name)
            entries[name] = {
                "epc": f"0x{info.epc:02X}",
                "descriptions": {"ja": info.name_ja, "en": info.name_en},
                "writable": name in writable,
                "observable": info.observable,
                "schema": dict(info.schema),
            }
        document = {
            "deviceType": backend.device_type,
            "eoj": f"0x{backend.class_id:04X}",
            "descriptions": {"ja": classdef.name_ja, "en": classdef.name_en},
            "properties": entries,
        }
        return self._document(schemas.DEVICE, document)

    async def _properties(self, request: web.Request) -> Any:
        try:
            backend = self._backend(request)
        except _Answer as answer:
            return answer.response
        served = backend.property_names()
        wanted = request.query.get("names")
        # ?names=a,b: those only (a status read is then one request, one Get to the device); a
        # name the device does not serve is left out, as an unreadable one is.
        names = [n for n in wanted.split(",") if n in served] if wanted else list(served)
        names = [n for n in names if n not in IDENTITY_PROPERTIES or self._shows_identity(request)]
        try:
            # A property the device will not give now is left out, not faked.
            document = await asyncio.wait_for(backend.get_many(names), self.config.device_timeout_s)
        except (DeviceUnavailable, TimeoutError) as exc:
            return self._error(504, "timeoutError", str(exc) or "the device did not answer")
        return self._document(schemas.PROPERTIES, document)

    async def _get(self, request: web.Request) -> Any:
        try:
            backend = self._backend(request)
            prop = self._property(request, backend)
            value = await self._read(backend, prop.name)
        except _Answer as answer:
            return answer.response
        except PropertyRefused as exc:
            return self._error(400, "deviceError", str(exc))
        except DeviceUnavailable as exc:
            return self._error(504, "timeoutError", str(exc))
        return self._document(schemas.PROPERTY, {prop.name: value})

    async def _put(self, request: web.Request) -> Any:
        try:
            backend = self._backend(request)
            prop = self._property(request, backend)
        except _Answer as answer:
            return answer.response
        name = prop.name
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "typeError", "the body is not JSON")
        found = schemas.problems(schemas.PROPERTY, body)
        if not found and name not in body:
            found = [f"(document): the member must be named {name!r}"]
        if not found:
            found = schemas.value_problems(prop.schema, body[name], where=name)
        if found:
            return self._error(400, "typeError", "; ".join(found))
        return await self._write(request, backend, schemas.PROPERTY, body)

    async def _put_many(self, request: web.Request) -> Any:
        """Several properties in one control request, which the device takes together or not
        at all (one SetC behind it). The Guideline writes one property per request; a DR
        request is a target with its mode and duration, which must arrive as one."""
        try:
            backend = self._backend(request)
        except _Answer as answer:
            return answer.response
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "typeError", "the body is not JSON")
        found = schemas.problems(schemas.PROPERTIES, body)
        if not found and not body:
            found = ["(document): nothing to write"]
        if not found:
            served = backend.property_names()
            for name, value in body.items():
                if name not in served:
                    return self._error(404, "referenceError", f"no property {name!r}")
                found += schemas.value_problems(backend.info(name).schema, value, where=name)
        if found:
            return self._error(400, "typeError", "; ".join(found))
        return await self._write(request, backend, schemas.PROPERTIES, body)

    async def _write(
        self, request: web.Request, backend: DeviceBackend, document: str, body: dict[str, Any]
    ) -> Any:
        read_only = sorted(set(body) - set(backend.writable_names()))
        if read_only:
            return self._error(405, "readOnlyError", f"{', '.join(read_only)} not writable")
        try:
            await asyncio.wait_for(backend.set_many(body), self.config.device_timeout_s)
        except PropertyRefused as exc:
            return self._error(400, "deviceError", str(exc))
        except (DeviceUnavailable, TimeoutError) as exc:
            return self._error(504, "timeoutError", str(exc) or "the device did not answer")
        for name, value in body.items():
            self.executed.append((request.match_info["device"], name, value))
        return self._document(document, dict(body))


class _Answer(Exception):
    """Carries an error response out of a lookup helper."""

    def __init__(self, response: Any) -> None:
        super().__init__("answer")
        self.response = response


def _port_of(site: web.TCPSite) -> int:
    server = site._server  # aiohttp keeps the bound socket only here
    sockets = getattr(server, "sockets", None) or []
    if not sockets:
        raise MakerCloudError("the site has no bound socket")
    return int(sockets[0].getsockname()[1])
