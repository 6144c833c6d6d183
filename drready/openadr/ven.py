"""A thin OpenADR 3 VEN client: what a reference device (or its maker's server) uses to talk to
a VTN. It speaks the protocol and nothing more: what to do with an event is the simulator's call.

Every request is bounded by ``timeout_s``; every failure, a non-2xx answer or a transport error
(refused, reset, TLS, timeout), is a :class:`VenError`. TLS is verified by default with TLS 1.2 as
the floor (OpenADR 3.1.0 Definition.md, "HTTPS/TLS"); ``ssl=False`` turns verification off, which
the specification lets a VEN offer as a setting. Redirects are not followed unless asked.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl as ssl_module
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus, urlsplit

import aiohttp

from drready.evidence import EvidenceSink
from drready.evidence.http import record_request, record_response
from drready.openadr.server import iso_duration, rfc3339
from drready.openadr.validation import OpenAdrError

#: A token is fetched again this long before the VTN said it expires.
TOKEN_MARGIN_S = 30.0


class VenError(OpenAdrError):
    """A request that did not get a 2xx answer. ``status`` is None when no answer came at all
    (transport failure, timeout); ``problem`` is the problem document when the VTN sent one;
    ``location`` the target of a redirect not followed; ``headers`` those of the answer."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        problem: Mapping[str, Any] | None = None,
        location: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = dict(problem) if problem is not None else None
        self.location = location
        self.headers = dict(headers or {})


def default_ssl_context() -> ssl_module.SSLContext:
    """System trust store, host name checked, TLS 1.2 or later."""
    context = ssl_module.create_default_context()
    context.minimum_version = ssl_module.TLSVersion.TLSv1_2
    return context


def build_report(
    event_id: str,
    client_name: str,
    resource_name: str,
    payloads: Mapping[str, Sequence[Any]],
    *,
    start: datetime | None = None,
    duration_s: float | None = None,
    report_name: str | None = None,
    units: Mapping[str, str] | None = None,
    reading_type: str | None = None,
) -> dict[str, Any]:
    """A reportRequest with one resource and one interval carrying ``payloads`` (type -> values).

    ``units`` maps payload types to the units of their reportPayloadDescriptor.
    """
    interval: dict[str, Any] = {
        "id": 0,
        "payloads": [{"type": kind, "values": list(values)} for kind, values in payloads.items()],
    }
    period: dict[str, Any] = {}
    if start is not None:
        if start.tzinfo is None:
            raise ValueError("a report's start must be timezone-aware")
        period["start"] = rfc3339(start.timestamp())
    if duration_s is not None:
        period["duration"] = iso_duration(duration_s)
    if period:
        interval["intervalPeriod"] = period
    report: dict[str, Any] = {
        "eventID": event_id,
        "clientName": client_name,
        "resources": [{"resourceName": resource_name, "intervals": [interval]}],
    }
    if report_name is not None:
        report["reportName"] = report_name
    if units:
        descriptors = []
        for kind, unit in units.items():
            descriptor = {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": kind}
            descriptor["units"] = unit
            if reading_type is not None:
                descriptor["readingType"] = reading_type
            descriptors.append(descriptor)
        report["payloadDescriptors"] = descriptors
    return report


class VenClient:
    """One VEN's HTTP client of a VTN at ``base_url``. Use as ``async with`` or :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        ssl: ssl_module.SSLContext | bool = True,
        evidence: EvidenceSink | None = None,
        timeout_s: float = 10.0,
        follow_redirects: bool = False,
        keepalive_s: float = 75.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: How long an idle connection is kept for the next request.
        self.keepalive_s = keepalive_s
        self.client_id = client_id
        self._client_secret = client_secret
        if ssl is True:
            self._ssl: ssl_module.SSLContext | bool = default_ssl_context()
        else:
            self._ssl = ssl
        self.evidence = evidence
        self.timeout_s = timeout_s
        self.follow_redirects = follow_redirects
        parts = urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._peer = f"{parts.hostname}:{port}"
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0  # loop time

    async def __aenter__(self) -> VenClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            # One connection per VEN, kept alive between polls, as a device would, for
            # ``keepalive_s`` (a VEN that polls every few minutes passes more than its interval,
            # so it does not pay a TLS handshake per poll).
            connector = aiohttp.TCPConnector(
                limit=1, ssl=self._ssl, keepalive_timeout=self.keepalive_s
            )
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    # -- the protocol ----------------------------------------------------------------------------
    async def fetch_token(self, *, basic: bool = False) -> str:
        """A bearer token for the client credentials (form body, or HTTP Basic if ``basic``)."""
        form = {"grant_type": "client_credentials"}
        auth = None
        if basic:
            # RFC 6749 section 2.3.1: each is form-urlencoded, then the pair Basic-encoded.
            pair = f"{_quote(self.client_id)}:{_quote(self._client_secret)}"
            auth = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.client_id
            form["client_secret"] = self._client_secret
        answer = await self._exchange(
            "POST", "/auth/token", form=form, basic_auth=auth, authorize=False
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
            raise VenError(f"the token endpoint answered no access_token: {answer!r}", status=200)
        self._token = answer["access_token"]
        expires_in = answer.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        loop = asyncio.get_running_loop()
        self._token_expires = loop.time() + max(0.0, lifetime - TOKEN_MARGIN_S)
        return self._token

    async def register(self, ven_name: str, *, attributes: Sequence[Any] = ()) -> dict[str, Any]:
        """Create this VEN's ven object; if the name is taken by our own, that one is returned."""
        body: dict[str, Any] = {"objectType": "VEN_VEN_REQUEST", "venName": ven_name}
        if attributes:
            body["attributes"] = list(attributes)
        try:
            return dict(await self.request("POST", "/vens", json_body=body))
        except VenError as exc:
            if exc.status != 409:
                raise
        for ven in await self.request("GET", "/vens", params={"venName": ven_name}):
            if ven.get("venName") == ven_name:
                return dict(ven)
        raise VenError(f"venName {ven_name!r} is taken by another client", status=409)

    async def programs(self, *, targets: Sequence[str] = ()) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/programs", params=_targets(targets)))

    async def events(
        self,
        program_id: str | None = None,
        *,
        targets: Sequence[str] = (),
        active: bool | None = None,
        skip: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        params = _targets(targets)
        if program_id is not None:
            params.append(("programID", program_id))
        if active is not None:
            params.append(("active", "true" if active else "false"))
        if skip is not None:
            params.append(("skip", str(skip)))
        if limit is not None:
            params.append(("limit", str(limit)))
        return list(await self.request("GET", "/events", params=params))

    async def event(self, event_id: str, *, targets: Sequence[str] = ()) -> dict[str, Any]:
        return dict(await self.request("GET", f"/events/{event_id}", params=_targets(targets)))

    async def post_report(self, report: Mapping[str, Any]) -> dict[str, Any]:
        """POST a reportRequest (see :func:`build_report`); the stored report."""
        return dict(await self.request("POST", "/reports", json_body=report))

    async def put_report(self, report_id: str, report: Mapping[str, Any]) -> dict[str, Any]:
        return dict(await self.request("PUT", f"/reports/{report_id}", json_body=report))

    async def delete_report(self, report_id: str) -> dict[str, Any]:
        return dict(await self.request("DELETE", f"/reports/{report_id}"))

    async def reports(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/reports"))

    async def subscribe(
        self,
        callback_url: str,
        *,
        client_name: str,
        objects: Sequence[str] = ("EVENT",),
        operations: Sequence[str] = ("CREATE", "UPDATE", "DELETE"),
        bearer_token: str | None = None,
        program_id: str | None = None,
        targets: Sequence[str] = (),
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "objects": list(objects),
            "operations": list(operations),
            "callbackUrl": callback_url,
        }
        if bearer_token is not None:
            operation["bearerToken"] = bearer_token
        body: dict[str, Any] = {"clientName": client_name, "objectOperations": [operation]}
        if program_id is not None:
            body["programID"] = program_id
        if targets:
            body["targets"] = list(targets)
        return dict(await self.request("POST", "/subscriptions", json_body=body))

    async def unsubscribe(self, subscription_id: str) -> dict[str, Any]:
        return dict(await self.request("DELETE", f"/subscriptions/{subscription_id}"))

    # -- the transport ---------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
        params: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
        authorize: bool = True,
    ) -> Any:
        """One authorised request; the parsed JSON answer. ``raw`` sends a body as it is (a
        malformed document, for fault simulation). A token is fetched when none is held or it
        is about to expire, and once more if the VTN answers 401. ``authorize=False`` sends it
        without the token (fault simulation: a device that forgets its credentials)."""
        for attempt in (1, 2):
            if self._token is None or asyncio.get_running_loop().time() >= self._token_expires:
                await self.fetch_token()
            try:
                return await self._exchange(
                    method,
                    path,
                    json_body=json_body,
                    raw=raw,
                    content_type=content_type,
                    params=params,
                    authorize=authorize,
                )
            except VenError as exc:
                if exc.status != 401 or attempt == 2 or not authorize:
                    raise
                self._token = None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
        params: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        basic_auth: str | None = None,
        authorize: bool = True,
    ) -> Any:
        headers: dict[str, str] = {"Accept": "application/json"}
        data: bytes | str | None = None
        if form is not None:
            data = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in form.items())
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif raw is not None:
            data = raw
            headers["Content-Type"] = content_type
        elif json_body is not None:
            data = json.dumps(json_body, separators=(",", ":"))
            headers["Content-Type"] = "application/json"
        if authorize and self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        if basic_auth is not None:
            headers["Authorization"] = basic_auth
        url = self.base_url + path
        shown_url = url
        if params:
            query = params.items() if isinstance(params, Mapping) else params
            shown_url += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query)
        if self.evidence is not None:
            record_request(self.evidence, self._peer, method, shown_url, headers.items(), data)
        session = self._open()
        try:
            async with (
                asyncio.timeout(self.timeout_s),
                session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    allow_redirects=self.follow_redirects,
                ) as response,
            ):
                body = await response.read()
                status = response.status
                reason = response.reason or ""
                answer_headers = list(response.headers.items())
                location = response.headers.get("Location")
        except TimeoutError:
            self._note(f"no answer to {method} {path} within {self.timeout_s:g} s")
            raise VenError(f"{method} {path}: no answer within {self.timeout_s:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            self._note(f"{method} {path} failed: {type(exc).__name__}: {exc}")
            raise VenError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if self.evidence is not None:
            record_response(self.evidence, self._peer, status, reason, answer_headers, body)
        try:
            document = json.loads(body) if body else None
        except ValueError:
            document = None
        if 200 <= status < 300:
            if body and document is None:
                raise VenError(f"{method} {path}: the answer is not JSON", status=status)
            return document
        problem = document if isinstance(document, dict) else None
        detail = f": {problem.get('detail') or problem.get('title')}" if problem else ""
        where = f" to {location}" if 300 <= status < 400 and location else ""
        raise VenError(
            f"{method} {path}: {status} {reason}{where}{detail}",
            status=status,
            problem=problem,
            location=location,
            headers=dict(answer_headers),
        )

    def _note(self, summary: str) -> None:
        if self.evidence is not None:
            self.evidence.add("note", "http", self._peer, summary)


def _targets(targets: Sequence[str]) -> list[tuple[str, str]]:
    # OpenAPI query arrays default to style form, explode true: targets=a&targets=b.
    return [("targets", t) for t in targets]


def _quote(text: str) -> str:
    return quote_plus(text)
