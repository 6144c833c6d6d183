"""The harness as a client of a maker's cloud speaking the ECHONET Lite Web API.

:class:`WebApiClient` reads the device list, a device's description and its properties, and
writes properties, over HTTPS with an OAuth 2.0 client-credentials bearer token (RFC 6749 §4.4,
RFC 6750). Every exchange goes to the run's evidence (channel ``http``). Every document the
cloud answers is checked against its JSON Schema (:mod:`drready.webapi.validation`), and
every property value against the schema its device description gives; a broken document is
noted in the evidence, then raised as :class:`SchemaViolation`. A non-2xx answer raises
:class:`WebApiHttpError` with the status and the error document.

Every document checked is counted by kind (:attr:`WebApiClient.documents`) and every one from the
cloud that broke its schema kept as a finding (:attr:`WebApiClient.findings`): the *-1.2 record.
:meth:`WebApiClient.properties` can ask for some properties only, and
:meth:`WebApiClient.set_many` writes several in one control request (the reference cloud's two
additions to the Guideline's shape, see :mod:`drready.simulators.maker_cloud`).

Control requests carry the replay guard the reference cloud asks for: a fresh ``X-Request-Id``
and a ``Date`` (RFC 9110 §6.6.1). :meth:`WebApiClient.raw` sends anything at all (no token, a
wrong token, a reused request id, an old date, plain HTTP) and returns the answer without
raising, for the security suite's probes.

Under virtual time, give the cloud's address as an IP literal: a host name would be resolved in
a thread, which a virtual loop does not wait for.

A request with no answer at all (refused, reset, timed out) is sent again, up to ``attempts``
times in all, when that is safe: a read, a token request, or a control request whose replay
guard the client makes (each attempt gets a fresh ``X-Request-Id`` and ``Date``, so a cloud that
did act on the first sees a new request, and a property write is idempotent); never a request
whose ``request_id`` or ``date`` the caller fixed (a replay probe), which would be a replay.

Link impairment (``impairment``): :mod:`drready.webapi.impair` says what each one does here.

One module past ~500 lines: it is one client's public surface (the Web API calls, the raw
requests the security probes make, the token), whose parts share one session, one token and one
retry rule; what an impairment does lives in :mod:`drready.webapi.impair`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import aiohttp

from drready.errors import ExchangeError
from drready.evidence import EvidenceSink
from drready.evidence.http import CHANNEL, record_request, record_response
from drready.impairment import LinkImpairment
from drready.webapi import validation as schemas
from drready.webapi.impair import ImpairedExchanges, LostOnLink
from drready.webapi.validation import SchemaViolation, WebApiError

__all__ = [
    "API_PREFIX",
    "TOKEN_PATH",
    "RawResponse",
    "SchemaViolation",
    "WebApiClient",
    "WebApiConnectionError",
    "WebApiError",
    "WebApiHttpError",
]

#: ECHONET Lite Web API Guideline (API specification part): the API root and its version.
API_PREFIX: Final = "/elapi/v1"
#: The token endpoint of the reference cloud (RFC 6749 leaves the path to the server).
TOKEN_PATH: Final = "/oauth/token"
_CONTROL_METHODS: Final = frozenset({"PUT", "POST", "PATCH", "DELETE"})
#: A token this close to its expiry is renewed before use.
_TOKEN_MARGIN_S: Final = 30.0
#: Most device-list pages followed (at 100 devices a page, far more than one home has).
_MAX_PAGES: Final = 100
_JSON: Final = "application/json"
#: The least an idle connection to the cloud is kept (a session passes more for a longer poll
#: interval; aiohttp's server keeps an idle one about an hour).
_KEEPALIVE_S: Final = 120.0


class WebApiHttpError(WebApiError):
    """The cloud answered non-2xx: the status and the (schema-checked) error document."""

    def __init__(self, status: int, reason: str, document: Any, url: str) -> None:
        self.status = status
        self.reason = reason
        self.document = document
        self.url = url
        detail = document.get("message") if isinstance(document, Mapping) else None
        detail = detail or (document.get("error") if isinstance(document, Mapping) else None)
        super().__init__(f"{status} {reason} from {url}" + (f": {detail}" if detail else ""))


class WebApiConnectionError(WebApiError, ExchangeError):
    """No HTTP answer at all: connection refused or reset, TLS failure, or the time ran out."""


@dataclass(frozen=True)
class RawResponse:
    """What a raw request got. ``status`` is ``None`` when no HTTP answer came (``error`` says
    why: refused, TLS failure, timeout)."""

    status: int | None
    reason: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""

    @property
    def document(self) -> Any:
        """The body parsed as JSON (``None`` if it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class WebApiClient:
    """A client of one maker's cloud. Create it anywhere; it opens its session on first use."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        ssl: Any = True,
        evidence: EvidenceSink,
        timeout_s: float = 10.0,
        token_path: str = TOKEN_PATH,
        api_prefix: str = API_PREFIX,
        local_addr: tuple[str, int] | None = None,
        attempts: int = 1,
        impairment: LinkImpairment | None = None,
        keepalive_s: float = _KEEPALIVE_S,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be > 0")
        if attempts < 1:
            raise ValueError("attempts must be ≥ 1")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.ssl = ssl
        self.evidence = evidence
        self.timeout_s = timeout_s
        self.token_path = token_path
        self.api_prefix = api_prefix.rstrip("/")
        self.peer = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expiry = 0.0
        self._schemas: dict[str, Mapping[str, Any]] = {}  # device id -> property name -> schema
        #: The address our connections leave from (None: the system's choice).
        self.local_addr = local_addr
        #: Documents from the cloud checked against their schema, by document name (*-1.2).
        self.documents: Counter[str] = Counter()
        #: Documents from the cloud that broke their schema: (where, document, errors).
        self.findings: list[tuple[str, Any, tuple[str, ...]]] = []
        #: How often a request with no answer is sent (see the module docs).
        self.attempts = attempts
        self.impairment = impairment
        #: How long an idle connection to the cloud is kept for the next request.
        self.keepalive_s = keepalive_s
        self._impaired_link: ImpairedExchanges | None = None
        if impairment is not None:
            ImpairedExchanges(impairment, evidence, timeout_s).note(
                "settings",
                self.peer,
                f"HTTP link impaired: {impairment.impairment.describe()}; {attempts} attempts a "
                "request",
            )

    # -- lifecycle ------------------------------------------------------------------------
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Keep a connection to the cloud open between reads a poll interval apart (a water
            # heater is read every few minutes): a new TLS handshake per read is slow for
            # nothing.
            connector = aiohttp.TCPConnector(
                local_addr=self.local_addr, keepalive_timeout=self.keepalive_s
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            )
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the exchange, recorded -----------------------------------------------------------
    def _url(self, path: str, *, plain_http: bool = False, base_url: str | None = None) -> str:
        base = (base_url or self.base_url).rstrip("/")
        if plain_http:
            parts = urlsplit(base)
            base = urlunsplit(("http", parts.netloc, parts.path, "", ""))
        return base + path

    async def _exchange(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, note: str = ""
    ) -> RawResponse:
        peer = urlsplit(url).netloc or self.peer
        if self.impairment is not None:
            return await self._impaired(self.impairment, peer, method, url, headers, body, note)
        return await self._wire(peer, method, url, headers, body, note)

    async def _impaired(
        self,
        dice: LinkImpairment,
        peer: str,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        note: str,
    ) -> RawResponse:
        if self._impaired_link is None or self._impaired_link.dice is not dice:
            self._impaired_link = ImpairedExchanges(dice, self.evidence, self.timeout_s)

        def lost() -> None:
            record_request(self.evidence, peer, method, url, headers, body, note=note)

        def send() -> Awaitable[RawResponse]:
            return self._wire(peer, method, url, headers, body, note)

        def answered(got: RawResponse) -> bool:
            return got.status is not None

        try:
            return await self._impaired_link.exchange(peer, method, url, send, answered, lost)
        except LostOnLink as why:
            error = f"TimeoutError (link impairment: {why})"
            # "URL (error)", not "URL: error": ".../token: x" would read as a credential pair.
            self.evidence.add("note", CHANNEL, peer, f"no answer to {method} {url} ({error})")
            return RawResponse(None, error=error)

    async def _wire(
        self,
        peer: str,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        note: str,
    ) -> RawResponse:
        record_request(self.evidence, peer, method, url, headers, body, note=note)
        try:
            async with self._http().request(
                method, url, headers=headers, data=body, ssl=self.ssl, allow_redirects=False
            ) as response:
                content = await response.read()
                answer = RawResponse(
                    response.status, response.reason or "", dict(response.headers), content
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.evidence.add("note", CHANNEL, peer, f"no answer to {method} {url} ({error})")
            return RawResponse(None, error=error)
        record_response(
            self.evidence, peer, answer.status or 0, answer.reason, answer.headers, answer.body
        )
        return answer

    def _violation(
        self,
        name: str,
        document: Any,
        errors: list[str],
        url: str,
        direction: str = "response",
        method: str = "GET",
    ) -> SchemaViolation:
        if direction == "response":
            self.findings.append((f"{method} {urlsplit(url).path}", document, tuple(errors)))
        self.evidence.add(
            "note",
            CHANNEL,
            urlsplit(url).netloc or self.peer,
            f"schema violation in the {direction} {name} document from {url}",
            values={"document": document, "errors": errors, "schema": name, "url": url},
        )
        return SchemaViolation(name, document, errors, direction=direction)

    def _checked(self, name: str, answer: RawResponse, url: str, method: str = "GET") -> Any:
        """The answer's document, checked: raises for non-JSON, schema violations and non-2xx."""
        document = answer.document
        if answer.status is None:
            raise WebApiConnectionError(f"no answer from {url}: {answer.error}")
        ok = 200 <= answer.status < 300
        if document is None and (ok or answer.body):
            kind = name if ok else schemas.ERROR
            self.documents[kind] += 1
            errors = ["(document): the body is not JSON"]
            raise self._violation(
                kind, answer.body.decode(errors="replace"), errors, url, method=method
            )
        if not ok:
            if document is not None:
                self.documents[schemas.ERROR] += 1
                errors = schemas.problems(schemas.ERROR, document)
                if errors:
                    raise self._violation(schemas.ERROR, document, errors, url, method=method)
            raise WebApiHttpError(answer.status, answer.reason, document, url)
        self.documents[name] += 1
        errors = schemas.problems(name, document)
        if errors:
            raise self._violation(name, document, errors, url, method=method)
        return document

    def check_error_document(self, answer: RawResponse, method: str, url: str) -> list[str]:
        """Check the error document of a non-2xx ``answer`` to a raw request (a probe) as every
        other document is: counted, and a broken one noted as a finding. Returns the problems
        (none for a 2xx answer, or one with no body)."""
        if answer.status is None or 200 <= answer.status < 300 or not answer.body:
            return []
        document = answer.document
        self.documents[schemas.ERROR] += 1
        if document is None:
            errors = ["(document): the body is not JSON"]
            document = answer.body.decode(errors="replace")
        else:
            errors = schemas.problems(schemas.ERROR, document)
        if errors:
            self._violation(schemas.ERROR, document, errors, url, method=method)
        return errors

    # -- token ----------------------------------------------------------------------------
    @staticmethod
    def _token_request(client_id: str, client_secret: str) -> tuple[dict[str, str], bytes]:
        # RFC 6749 §2.3.1: client credentials by HTTP Basic, each form-urlencoded first; the
        # request itself is form-urlencoded (§4.4.2).
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
        auth = "Basic " + base64.b64encode(pair).decode("ascii")  # RFC 7617 §2
        headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
        return headers, b"grant_type=client_credentials"

    async def token_request(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        plain_http: bool = False,
        base_url: str | None = None,
    ) -> RawResponse:
        """Ask the token endpoint with these credentials (ours by default); never raises."""
        url = self._url(self.token_path, plain_http=plain_http, base_url=base_url)
        headers, body = self._token_request(
            self.client_id if client_id is None else client_id,
            self._client_secret if client_secret is None else client_secret,
        )
        for _attempt in range(self.attempts):
            answer = await self._exchange("POST", url, headers, body, note="token request")
            if answer.status is not None:
                break
        return answer

    async def access_token(self) -> str:
        """A valid bearer token, asked for when there is none or it is about to expire."""
        now = asyncio.get_running_loop().time()
        if self._token is not None and now < self._token_expiry - _TOKEN_MARGIN_S:
            return self._token
        url = self._url(self.token_path)
        document = self._checked(schemas.TOKEN, await self.token_request(), url, "POST")
        self._token = str(document["access_token"])
        self._token_expiry = now + float(document["expires_in"])
        return self._token

    # -- raw requests (probes) ------------------------------------------------------------
    async def raw(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        token: bool | str = True,
        plain_http: bool = False,
        base_url: str | None = None,
        request_id: str | None = None,
        date: datetime | str | None = None,
        replay_guard: bool | None = None,
    ) -> RawResponse:
        """Send one request as asked and return the answer, whatever its status; never raises
        for the answer (a missing answer is ``status=None``, after the attempts the module docs
        describe). Only fetching the valid token
        (``token=True``) can raise, as :meth:`access_token` does.

        ``token``: ``True`` a valid token, ``False`` none, a string that token. ``body``: bytes
        or text as is, anything else as JSON. The replay guard headers (``X-Request-Id``,
        ``Date``) go with control methods unless ``replay_guard=False``, and with any method
        when ``True``; ``request_id`` / ``date`` pick their values (to replay, or to be late).
        """
        method = method.upper()
        url = self._url(path, plain_http=plain_http, base_url=base_url)
        # A caller that fixed the replay guard gets one attempt: another would be a replay.
        attempts = self.attempts if request_id is None and date is None else 1
        for _attempt in range(attempts):
            answer = await self._raw_once(
                method, url, headers, body, token, request_id, date, replay_guard
            )
            if answer.status is not None:
                break
        return answer

    async def _raw_once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: Any,
        token: bool | str,
        request_id: str | None,
        date: datetime | str | None,
        replay_guard: bool | None,
    ) -> RawResponse:
        sent: dict[str, str] = {"Accept": _JSON}
        if token is True:
            sent["Authorization"] = f"Bearer {await self.access_token()}"
        elif isinstance(token, str):
            sent["Authorization"] = f"Bearer {token}"
        guard = method in _CONTROL_METHODS if replay_guard is None else replay_guard
        if guard:
            sent["X-Request-Id"] = request_id or str(uuid.uuid4())
            when = date if date is not None else datetime.now(UTC)
            sent["Date"] = (
                format_datetime(when, usegmt=True) if isinstance(when, datetime) else when
            )
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes | str):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body, ensure_ascii=False).encode()
            sent["Content-Type"] = _JSON
        sent.update(headers or {})
        return await self._exchange(method, url, sent, data)

    # -- the Web API ----------------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return self.api_prefix + "".join("/" + quote(p, safe="") for p in parts)

    async def _call(self, name: str, method: str, path: str, body: Any = None) -> Any:
        answer = await self.raw(method, path, body=body)
        return self._checked(name, answer, self._url(path), method)

    async def devices(self) -> list[dict[str, Any]]:
        """Every device of the account (following ``hasMore`` pages)."""
        found: list[dict[str, Any]] = []
        offset = 0
        for _page in range(_MAX_PAGES):
            path = self._path("devices") + (f"?offset={offset}" if offset else "")
            document = await self._call(schemas.DEVICES, "GET", path)
            found.extend(document["devices"])
            if not document["hasMore"] or not document["devices"]:
                return found
            offset = document["offset"] + len(document["devices"])
        raise WebApiError(f"the device list did not end within {_MAX_PAGES} pages")

    async def description(self, device_id: str) -> dict[str, Any]:
        """The device description; its property schemas then check this device's values."""
        document: dict[str, Any] = await self._call(
            schemas.DEVICE, "GET", self._path("devices", device_id)
        )
        self._schemas[device_id] = {
            name: entry["schema"] for name, entry in document["properties"].items()
        }
        return document

    async def _value_schemas(self, device_id: str) -> Mapping[str, Any]:
        if device_id not in self._schemas:
            await self.description(device_id)
        return self._schemas[device_id]

    async def _check_values(
        self,
        device_id: str,
        name: str,
        document: Mapping[str, Any],
        url: str,
        direction: str,
        method: str = "GET",
    ) -> None:
        known = await self._value_schemas(device_id)
        errors: list[str] = []
        for key, value in document.items():
            if key not in known:
                errors.append(f"{key}: not a property of the device description")
            else:
                errors += schemas.value_problems(known[key], value, where=key)
        if errors:
            raise self._violation(name, dict(document), errors, url, direction, method)

    async def properties(
        self, device_id: str, names: list[str] | tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        """Every property value the cloud gives for the device, checked against their schemas.

        ``names`` asks for those only (``?names=a,b``, the reference cloud's filter, so that a
        status read is one request and one ECHONET Lite Get behind it); a cloud without the
        filter answers every property, which is as good.
        """
        path = self._path("devices", device_id, "properties")
        if names:
            path += "?names=" + ",".join(quote(n, safe="") for n in names)
        document: dict[str, Any] = await self._call(schemas.PROPERTIES, "GET", path)
        await self._check_values(
            device_id, schemas.PROPERTIES, document, self._url(path), "response"
        )
        return document

    def _single(
        self, document: Mapping[str, Any], short_name: str, url: str, method: str = "GET"
    ) -> Any:
        if set(document) != {short_name}:
            errors = [f"(document): expected the one member {short_name!r}, got {sorted(document)}"]
            raise self._violation(schemas.PROPERTY, dict(document), errors, url, method=method)
        return document[short_name]

    async def get(self, device_id: str, short_name: str) -> Any:
        """One property's value."""
        path = self._path("devices", device_id, "properties", short_name)
        document = await self._call(schemas.PROPERTY, "GET", path)
        value = self._single(document, short_name, self._url(path))
        await self._check_values(device_id, schemas.PROPERTY, document, self._url(path), "response")
        return value

    async def set(self, device_id: str, short_name: str, value: Any) -> Any:
        """Write one property (a control request, with the replay guard); the value the cloud
        confirms is returned."""
        path = self._path("devices", device_id, "properties", short_name)
        url = self._url(path)
        request = {short_name: value}
        errors = schemas.problems(schemas.PROPERTY, request)
        if errors:
            raise self._violation(schemas.PROPERTY, request, errors, url, "request")
        await self._check_values(device_id, schemas.PROPERTY, request, url, "request")
        document = await self._call(schemas.PROPERTY, "PUT", path, request)
        confirmed = self._single(document, short_name, url, "PUT")
        await self._check_values(device_id, schemas.PROPERTY, document, url, "response", "PUT")
        return confirmed

    async def set_many(self, device_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Write several properties in one control request (``PUT .../properties`` with a
        properties document), which the device must take together or not at all: a DR request
        is a target with its mode and duration, as one ECHONET Lite SetC carries them. The
        values the cloud confirms are returned."""
        path = self._path("devices", device_id, "properties")
        url = self._url(path)
        request = dict(values)
        errors = schemas.problems(schemas.PROPERTIES, request)
        if errors or not request:
            errors = errors or ["(document): nothing to write"]
            raise self._violation(schemas.PROPERTIES, request, errors, url, "request", "PUT")
        await self._check_values(device_id, schemas.PROPERTIES, request, url, "request", "PUT")
        document: dict[str, Any] = await self._call(schemas.PROPERTIES, "PUT", path, request)
        await self._check_values(device_id, schemas.PROPERTIES, document, url, "response", "PUT")
        return document
