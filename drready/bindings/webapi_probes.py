"""Security probes of a maker's cloud (ECHONET Lite Web API), the harness as its client.

Each probe tries one insecure exchange (:data:`drready.device.PROBES`) and says whether the cloud
did the safe thing *and* nothing was executed. Control probes write a **visible** value: a
writable property whose current value is read first (authenticated), then the probe's request
asks for another value, then the value is read again. A value that moved was executed, whatever
the status said, and is put back (authenticated), so the session stays as it was. The property is
``installationLocation`` (0x81) where the device lets it be written (harmless: a label), else the
backup reserve (``acDischargeLowerLimit``, 0xA7) or the first writable integer.

Who the probes are, seen from the cloud: a cloud locks out a *peer* after repeated bad
credentials (the reference cloud does, JC-STAR S1.1-04), and the harness's own session must not
be that peer. When the cloud is on a loopback address (the simulator, or a maker's cloud run
locally), the probes without credentials leave from 127.0.0.4 and the rate-limit probe from
127.0.0.3, so a lockout falls on them only. Against a cloud elsewhere every probe leaves from the
harness's own address, like its session. Either way, the rate-limit probe then waits the lockout
out (``Retry-After``, at most :data:`MAX_LOCKOUT_WAIT_S`: free in virtual time, up to 15 minutes
against a real cloud) and checks that the harness's session is served again, because a cloud may
lock the *client id* instead of the peer.

The bad guesses use the harness's own client id with wrong secrets (what an attacker who knows
the id would do). Control over plain HTTP is tried without a token: no credential of the harness
ever travels in clear text; a cloud that answers the Web API over plain HTTP at all (a 2xx, or
a 401 asking for a token) fails, a refused connection or a redirect to https passes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlsplit, urlunsplit

from drready.bindings.types import ProbeResult
from drready.errors import Inconclusive
from drready.webapi.client import RawResponse, WebApiClient, WebApiError

__all__ = ["MAX_LOCKOUT_WAIT_S", "PROBE_KINDS", "WebApiProbes", "plain_http_urls"]

PROBE_KINDS: Final = (
    "no-credentials",
    "wrong-credentials",
    "replayed-request",
    "plain-http-control",
    "rate-limit",
    "identity-unauthenticated",
)
#: How many times a probe sends a control request that got no answer at all (a lost link).
LINK_ATTEMPTS: Final = 3
#: Wrong secrets tried before concluding there is no rate limit (the reference cloud locks after
#: 5; JC-STAR leaves the number to the maker, 20 is far beyond any sensible one).
MAX_GUESSES: Final = 20
#: Longest lockout the harness waits out after the rate-limit probe.
MAX_LOCKOUT_WAIT_S: Final = 900.0
#: Properties that identify the unit (superclass 0x83, 0x8A, 0x8B, 0x8C, 0x8D): their MRA names.
IDENTITY_NAMES: Final = (
    "id",
    "manufacturer",
    "businessFacilityCode",
    "productCode",
    "serialNumber",
)
#: Answers that refuse a request for its credentials (RFC 9110 §15.5.2, §15.5.4; RFC 6585 §4).
_AUTH_REFUSALS: Final = frozenset({401, 403, 429})
#: Loopback addresses the probes leave from when the cloud is on loopback (see the module doc).
PROBE_PEER: Final = "127.0.0.4"
GUESSER_PEER: Final = "127.0.0.3"


def plain_http_urls(base_url: str) -> list[str]:
    """Where the cloud would serve plain HTTP: the https URL as http, on its port if it names
    one, and on port 80."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    host_text = f"[{host}]" if ":" in host else host
    found = []
    if parts.port is not None and parts.scheme == "https":
        found.append(urlunsplit(("http", f"{host_text}:{parts.port}", parts.path, "", "")))
    found.append(urlunsplit(("http", host_text, parts.path, "", "")))
    return list(dict.fromkeys(found))


def _no_answer(error: str) -> str:
    """Why no HTTP answer came, in plain words (aiohttp's messages name objects and addresses)."""
    kind = error.partition(":")[0]
    if "Connect call failed" in error or "Connection refused" in error:
        return "connection refused"
    if kind in ("ServerDisconnectedError", "ClientOSError") or "reset" in error.lower():
        return "connection closed or reset by the server"
    if kind in ("TimeoutError", "ServerTimeoutError", "ConnectionTimeoutError"):
        return "no answer in time"
    if "SSL" in kind or "Certificate" in kind:
        return f"TLS failure ({kind})"
    return kind or "connection closed"


def _status(answer: RawResponse) -> str:
    if answer.status is None:
        return f"no answer ({_no_answer(answer.error)})"
    kind = ""
    document = answer.document
    if isinstance(document, Mapping):
        kind = str(document.get("type") or document.get("error") or "")
    return f"{answer.status}" + (f" {kind}" if kind else "")


@dataclass(frozen=True)
class _Target:
    """The visible value a control probe tries to change."""

    name: str
    before: Any
    other: Any


class WebApiProbes:
    """The server-side probes of one device of a maker's cloud."""

    def __init__(
        self,
        client: WebApiClient,
        device_id: str,
        *,
        plain_urls: Sequence[str] = (),
        max_lockout_wait_s: float = MAX_LOCKOUT_WAIT_S,
    ) -> None:
        self.client = client
        self.device_id = device_id
        self.plain_urls = list(dict.fromkeys([*plain_http_urls(client.base_url), *plain_urls]))
        self.max_lockout_wait_s = max_lockout_wait_s
        loopback = (urlsplit(client.base_url).hostname or "").startswith("127.")
        self.stranger = self._peer(PROBE_PEER if loopback else None)
        self.guesser = self._peer(GUESSER_PEER if loopback else None)

    def _peer(self, local_host: str | None) -> WebApiClient:
        client = self.client
        peer = WebApiClient(
            client.base_url,
            client.client_id,
            client._client_secret,
            ssl=client.ssl,
            evidence=client.evidence,
            timeout_s=client.timeout_s,
            token_path=client.token_path,
            api_prefix=client.api_prefix,
            local_addr=None if local_host is None else (local_host, 0),
        )
        # One count of documents and findings for the run (*-1.2), whoever received them.
        peer.documents = client.documents
        peer.findings = client.findings
        return peer

    async def close(self) -> None:
        await self.stranger.close()
        await self.guesser.close()

    # -- helpers -------------------------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return self.client.api_prefix + "".join("/" + quote(p, safe="") for p in parts)

    def _property_path(self, name: str) -> str:
        return self._path("devices", self.device_id, "properties", name)

    def _checked(self, answer: RawResponse, method: str, path: str, base: str = "") -> None:
        """Probe answers are documents from the cloud too: their error documents count."""
        url = (base or self.client.base_url) + path
        self.client.check_error_document(answer, method, url)

    async def _target(self) -> _Target | None:
        description = await self.client.description(self.device_id)
        entries: Mapping[str, Any] = description["properties"]
        writable = [name for name, entry in entries.items() if entry["writable"]]
        preferred = [n for n in ("installationLocation", "acDischargeLowerLimit") if n in writable]
        integers = [n for n in sorted(writable) if entries[n]["schema"].get("type") == "integer"]
        for name in dict.fromkeys([*preferred, *integers]):
            before = await self.client.get(self.device_id, name)
            other = _other_value(before, entries[name]["schema"])
            if other is not None:
                return _Target(name, before, other)
        return None

    async def _read(self, target: _Target) -> Any:
        return await self.client.get(self.device_id, target.name)

    async def _restore(self, target: _Target) -> str:
        """Put the probed value back (it was executed); says what happened."""
        try:
            await self.client.set(self.device_id, target.name, target.before)
        except WebApiError as exc:
            return f" Putting {target.name} back to {target.before!r} failed: {exc}."
        return f" {target.name} was put back to {target.before!r}."

    async def _executed(self, target: _Target | None) -> tuple[bool, str]:
        """Whether the probed value moved, and the sentence that says so (restoring it)."""
        if target is None:
            return False, " No writable property shows whether it was executed."
        after = await self._read(target)
        if after == target.before:
            return False, f" {target.name} stayed {target.before!r}."
        return True, f" {target.name} changed to {after!r}: executed." + await self._restore(target)

    def _control(self, client: WebApiClient, target: _Target | None, **options: Any) -> Any:
        name = target.name if target is not None else "operationStatus"
        value = target.other if target is not None else True
        return client.raw("PUT", self._property_path(name), body={name: value}, **options)

    # -- the probes ------------------------------------------------------------------------------
    def kinds(self) -> tuple[str, ...]:
        return PROBE_KINDS

    async def run(self, kind: str) -> ProbeResult:
        probes = {
            "no-credentials": self.no_credentials,
            "wrong-credentials": self.wrong_credentials,
            "replayed-request": self.replayed_request,
            "plain-http-control": self.plain_http_control,
            "rate-limit": self.rate_limit,
            "identity-unauthenticated": self.identity_unauthenticated,
        }
        if kind not in probes:
            raise ValueError(f"the ECHONET Lite Web API binding has no probe {kind!r}")
        return await probes[kind]()

    async def no_credentials(self) -> ProbeResult:
        target = await self._target()
        answer = await self._control(self.stranger, target, token=False)
        self._checked(answer, "PUT", self._property_path(target.name if target else ""))
        executed, what = await self._executed(target)
        refused = answer.status in _AUTH_REFUSALS and not executed
        name = target.name if target else "a property"
        return ProbeResult(
            "no-credentials",
            refused,
            f"A PUT of {name} without a token was answered {_status(answer)}.{what}",
        )

    async def wrong_credentials(self) -> ProbeResult:
        token = await self.stranger.token_request(client_secret="wrong-" + uuid.uuid4().hex)
        self._checked(token, "POST", self.client.token_path)
        target = await self._target()
        answer = await self._control(self.stranger, target, token="wrong-" + uuid.uuid4().hex)
        self._checked(answer, "PUT", self._property_path(target.name if target else ""))
        executed, what = await self._executed(target)
        token_refused = token.status is not None and 400 <= token.status < 500
        refused = token_refused and answer.status in _AUTH_REFUSALS and not executed
        name = target.name if target else "a property"
        return ProbeResult(
            "wrong-credentials",
            refused,
            f"A token request with a wrong secret was answered {_status(token)}; a PUT of "
            f"{name} with a made-up token was answered {_status(answer)}.{what}",
        )

    async def replayed_request(self) -> ProbeResult:
        target = await self._target()
        if target is None:
            return ProbeResult(
                "replayed-request",
                False,
                "No writable property to replay a control request on: cannot show that a "
                "replayed request is not executed.",
            )
        # A request or answer lost on the way says nothing about replays: the original is sent
        # again (a new request), the replay again as it was (still a replay).
        for _ in range(LINK_ATTEMPTS):
            request_id, sent = str(uuid.uuid4()), datetime.now(UTC)
            original = await self._control(self.client, target, request_id=request_id, date=sent)
            if original.status is not None:
                break
        if original.status is None:
            raise Inconclusive(
                f"the original control request (PUT {target.name}) got no answer in "
                f"{LINK_ATTEMPTS} attempts ({_status(original)}): nothing to replay",
                cause="*-1.1",
            )
        if not 200 <= original.status < 300:
            self._checked(original, "PUT", self._property_path(target.name))
            return ProbeResult(
                "replayed-request",
                False,
                f"The original control request (PUT {target.name}) was itself answered "
                f"{_status(original)}: nothing to replay.",
            )
        # Back to the value before, then the first request again, exactly as sent.
        await self.client.set(self.device_id, target.name, target.before)
        for _ in range(LINK_ATTEMPTS):
            replay = await self._control(self.client, target, request_id=request_id, date=sent)
            if replay.status is not None:
                break
        if replay.status is not None:
            self._checked(replay, "PUT", self._property_path(target.name))
        executed, what = await self._executed(target)
        if replay.status is None and not executed:
            raise Inconclusive(
                f"the replayed control request (PUT {target.name}) got no answer in "
                f"{LINK_ATTEMPTS} attempts ({_status(replay)}) and was not executed",
                cause="*-1.1",
            )
        refused = replay.status is not None and 400 <= replay.status < 500 and not executed
        return ProbeResult(
            "replayed-request",
            refused,
            f"A PUT of {target.name} was answered {_status(original)}; the same request sent "
            f"again (same X-Request-Id, Date and token) was answered {_status(replay)}.{what}",
        )

    async def plain_http_control(self) -> ProbeResult:
        target = await self._target()
        seen: list[str] = []
        served = False
        for base in self.plain_urls:
            answer = await self._control(self.stranger, target, token=False, base_url=base)
            if answer.status is not None:
                self._checked(answer, "PUT", self._property_path(""), base)
            api = _serves_api(answer)
            served = served or api
            seen.append(f"{base}: {_status(answer)}{' (the Web API)' if api else ''}")
        executed, what = await self._executed(target)
        refused = not served and not executed
        return ProbeResult(
            "plain-http-control",
            refused,
            "Control over plain HTTP (no credentials sent): " + "; ".join(seen) + "." + what,
        )

    async def rate_limit(self) -> ProbeResult:
        statuses: list[str] = []
        limited: RawResponse | None = None
        granted = False
        for attempt in range(MAX_GUESSES):
            answer = await self.guesser.token_request(client_secret=f"guess-{attempt}")
            self._checked(answer, "POST", self.client.token_path)
            statuses.append(_status(answer))
            if answer.status == 429:
                limited = answer
                break
            if answer.status is not None and 200 <= answer.status < 300:
                granted = True
                break
        if limited is None:
            detail = (
                f"A wrong secret was granted a token ({statuses[-1]})."
                if granted
                else f"{len(statuses)} wrong secrets in a row were answered "
                f"{', '.join(dict.fromkeys(statuses))}; none was rate-limited."
            )
            return ProbeResult("rate-limit", False, detail)
        right = await self.guesser.token_request()
        self._checked(right, "POST", self.client.token_path)
        right_refused = right.status is not None and right.status in _AUTH_REFUSALS
        waited, usable = await self._wait_out(limited)
        detail = (
            f"After {len(statuses) - 1} wrong secrets the cloud answered 429 "
            f"(Retry-After {limited.headers.get('Retry-After', 'not given')}); the right secret "
            f"from the same peer was then answered {_status(right)}. The harness waited "
            f"{waited:.0f} s for the lockout to end; "
            + ("its session is served again." if usable else "its session is still refused.")
        )
        return ProbeResult("rate-limit", right_refused, detail)

    async def _wait_out(self, limited: RawResponse) -> tuple[float, bool]:
        """Wait until the lockout ends (bounded) and the harness's session is served again."""
        try:
            retry_after = float(limited.headers.get("Retry-After", "60"))
        except ValueError:
            retry_after = 60.0
        waited = 0.0
        wait = min(max(retry_after, 1.0) + 1.0, self.max_lockout_wait_s)
        while True:
            await asyncio.sleep(wait)
            waited += wait
            check = await self.client.raw(
                "GET", self._path("devices", self.device_id, "properties", "operationStatus")
            )
            if check.status != 429 or waited >= self.max_lockout_wait_s:
                return waited, check.status != 429
            wait = min(60.0, self.max_lockout_wait_s - waited)

    async def identity_unauthenticated(self) -> ProbeResult:
        secrets = await self._identity_values()
        asked = [
            self._path("devices"),
            self._path("devices", self.device_id),
            self._path("devices", self.device_id, "properties"),
            *(self._property_path(name) for name in IDENTITY_NAMES),
        ]
        disclosed: list[str] = []
        seen: list[str] = []
        for path in asked:
            answer = await self.stranger.raw("GET", path, token=False)
            self._checked(answer, "GET", path)
            short = path.removeprefix(self.client.api_prefix)
            seen.append(f"{short} {_status(answer)}")
            if answer.status is None or not 200 <= answer.status < 300:
                continue
            body = answer.body.decode(errors="replace")
            found = sorted(
                # "id" is also the device list's own key for the cloud's opaque device id: 0x83
                # is looked for by its value instead, as the serial number is.
                {n for n in IDENTITY_NAMES if n != "id" and _has_value(answer.document, n)}
                | {what for what, text in secrets.items() if text and text in body}
            )
            if found:
                disclosed.append(f"{short} gave {', '.join(found)}")
        refused = not disclosed
        summary = "; ".join(disclosed) if disclosed else "nothing that identifies the unit"
        return ProbeResult(
            "identity-unauthenticated",
            refused,
            f"Asked with no credentials, the cloud answered {'; '.join(seen)}. "
            f"Disclosed: {summary}.",
        )

    async def _identity_values(self) -> dict[str, str]:
        """The unit's identity as the authenticated session reads it: text to look for."""
        found: dict[str, str] = {}
        for name in ("serialNumber", "id"):
            try:
                value = await self.client.get(self.device_id, name)
            except WebApiError:
                continue
            if isinstance(value, str) and len(value) >= 4:
                found[name] = value
        return found


def _has_value(document: Any, name: str) -> bool:
    """Whether ``name`` carries a value anywhere in ``document``. A device description names
    properties and gives their schemas, not their values, so it never counts."""
    if isinstance(document, Mapping):
        if "eoj" in document and "deviceType" in document:
            return False
        for key, value in document.items():
            if key == name and value not in (None, "", {}, []):
                return True
            if _has_value(value, name):
                return True
        return False
    if isinstance(document, list):
        return any(_has_value(item, name) for item in document)
    return False


def _serves_api(answer: RawResponse) -> bool:
    """Whether a plain-HTTP answer comes from the Web API itself (not a refusal, a redirect to
    https, or some other site): a 2xx, a 401 asking for a token, or a Web API error document."""
    if answer.status is None:
        return False
    if 300 <= answer.status < 400:
        return not answer.headers.get("Location", "").startswith("https://")
    if 200 <= answer.status < 300 or answer.status == 401:
        return True
    document = answer.document
    return isinstance(document, Mapping) and ("type" in document and "message" in document)


def _other_value(value: Any, schema: Mapping[str, Any]) -> Any:
    """Another valid value for a probe to write: a different byte for a one-byte raw value, or
    ten more (or less) for an integer."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 4:
        return "0x08" if value.lower() != "0x08" else "0x10"
    if isinstance(value, int) and not isinstance(value, bool):
        high = schema.get("maximum", value + 10)
        low = schema.get("minimum", value - 10)
        if value + 10 <= high:
            return value + 10
        if value - 10 >= low:
            return value - 10
    return None
