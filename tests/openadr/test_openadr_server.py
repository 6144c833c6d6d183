"""The OpenADR 3 VTN (drready.openadr.server) against real aiohttp clients over TLS."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from drready.evidence import EvidenceLog
from drready.openadr import server as openadr_server
from drready.openadr import validation as schemas
from drready.openadr.server import (
    Servicer,
    ServicerError,
    ServicerTimeout,
    duration_seconds,
    iso_duration,
)
from drready.openadr.server import store as openadr_store
from drready.openadr.validation import (
    DISPATCH_SETPOINT,
    DR_POSSIBLE_ENERGY,
    POWER_SETPOINT,
    STORAGE_CHARGE_LEVEL,
    UNITS_KW,
    SchemaViolation,
)
from drready.openadr.ven import VenClient, VenError, build_report

CLIENTS = {"ven-a": "secret-a", "ven-b": "secret-b"}
START = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_ssl(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_ssl(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def evidence() -> Iterator[EvidenceLog]:
    log = EvidenceLog(time.time)
    yield log
    log.close()


@pytest.fixture
async def servicer(evidence: EvidenceLog, server_ssl: ssl.SSLContext) -> AsyncIterator[Servicer]:
    async with Servicer(evidence, clients=CLIENTS, ssl_context=server_ssl) as running:
        yield running


@pytest.fixture
async def ven(servicer: Servicer, client_ssl: ssl.SSLContext) -> AsyncIterator[VenClient]:
    async with VenClient(servicer.base_url, "ven-a", "secret-a", ssl=client_ssl) as client:
        yield client


@pytest.fixture
async def http(client_ssl: ssl.SSLContext) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl)) as session:
        yield session


async def published(servicer: Servicer, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    program = await servicer.add_program("DRready-battery")
    event = await servicer.publish_event(
        program["id"],
        start=START,
        duration_s=1800,
        payload_type=POWER_SETPOINT,
        values=[-1.5],
        units=UNITS_KW,
        **kwargs,
    )
    return program, event


def soc_report(event_id: str, soc: float = 0.5) -> dict[str, Any]:
    return build_report(
        event_id,
        "VEN-A",
        "battery-1",
        {STORAGE_CHARGE_LEVEL: [soc], DR_POSSIBLE_ENERGY: [3.2]},
        start=START,
        duration_s=60,
        units={STORAGE_CHARGE_LEVEL: "PERCENT", DR_POSSIBLE_ENERGY: "KWH"},
    )


# -- token endpoint and authorisation --------------------------------------------------------------
async def test_token_by_form_and_basic(servicer: Servicer, http: aiohttp.ClientSession) -> None:
    url = servicer.base_url + "/auth/token"
    form = {"grant_type": "client_credentials", "client_id": "ven-a", "client_secret": "secret-a"}
    async with http.post(url, data=form) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        answer = await response.json()
    schemas.validate("token", answer)
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    basic = base64.b64encode(b"ven-b:secret-b").decode()
    async with http.post(
        url, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    ) as response:
        assert response.status == 200
        token = (await response.json())["access_token"]
    async with http.get(
        servicer.base_url + "/programs", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200
    assert servicer.requests[-1].client_id == "ven-b"
    assert servicer.last_request_time("ven-b") == servicer.requests[-1].time


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "client_credentials", "client_id": "ven-a", "client_secret": "no"}, 401,
         "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}, 401,
         "invalid_client"),
        ({"grant_type": "password", "client_id": "ven-a", "client_secret": "secret-a"}, 400,
         "unsupported_grant_type"),
        ({"client_id": "ven-a", "client_secret": "secret-a"}, 400, "invalid_request"),
    ],
)  # fmt: skip
async def test_token_refusals(
    servicer: Servicer, http: aiohttp.ClientSession, form: dict[str, str], status: int, error: str
) -> None:
    async with http.post(servicer.base_url + "/auth/token", data=form) as response:
        assert response.status == status
        answer = await response.json()
    schemas.validate("problem", answer)
    schemas.validate("authError", answer)
    assert answer["error"] == error
    assert bool(servicer.findings) == (status == 400)  # a malformed request is a finding


async def test_requests_without_a_valid_token_get_401(
    servicer: Servicer, http: aiohttp.ClientSession
) -> None:
    for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic eDp5"}):
        async with http.get(servicer.base_url + "/events", headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            schemas.validate("problem", await response.json())
    assert {r.client_id for r in servicer.requests} == {""}
    # None of them carried a token this servicer issued: no credentials, not an expired token.
    assert not any(r.expired_token for r in servicer.requests)


async def test_an_expired_token_is_refused(
    evidence: EvidenceLog, server_ssl: ssl.SSLContext, client_ssl: ssl.SSLContext
) -> None:
    async with (
        Servicer(evidence, clients=CLIENTS, ssl_context=server_ssl, token_ttl_s=0) as servicer,
        VenClient(servicer.base_url, "ven-a", "secret-a", ssl=client_ssl) as ven,
    ):
        with pytest.raises(VenError) as caught:
            await ven.programs()  # fetches a token, is refused, fetches again, refused again
        assert caught.value.status == 401
        assert len(servicer.requests_by(None, path_prefix="/auth/token")) == 2
        # A token issued here that expired is told apart from none (the missing-credentials
        # probe counts only the latter: a copy on a lossy link can outlive its token).
        refused = [r for r in servicer.requests if not r.path.startswith("/auth/")]
        assert refused and all(r.expired_token and not r.client_id for r in refused)


async def test_revoked_tokens_are_fetched_again(servicer: Servicer, ven: VenClient) -> None:
    await ven.programs()
    servicer.revoke_tokens("ven-a")
    await ven.programs()
    assert [r.status for r in servicer.requests] == [200, 200, 401, 200, 200]


# -- resources -------------------------------------------------------------------------------------
async def test_programs_and_events(servicer: Servicer, ven: VenClient) -> None:
    program, event = await published(servicer, name="slot 1")
    other = await servicer.add_program("other")
    second = await servicer.publish_event(
        other["id"], start=START, duration_s=None, payload_type="PRICE", values=[0.3]
    )
    assert second["intervalPeriod"]["duration"] == "P9999Y"
    assert [p["id"] for p in await ven.programs()] == [program["id"], other["id"]]
    assert [e["id"] for e in await ven.events()] == [event["id"], second["id"]]
    assert [e["id"] for e in await ven.events(program["id"])] == [event["id"]]
    assert [e["id"] for e in await ven.events(skip=1, limit=1)] == [second["id"]]
    fetched = await ven.event(event["id"])
    assert fetched == event
    assert fetched["intervals"][0]["payloads"] == [{"type": POWER_SETPOINT, "values": [-1.5]}]
    assert fetched["intervalPeriod"] == {"start": "2027-04-01T12:00:00.000Z", "duration": "PT30M"}
    schemas.validate("event", fetched)
    schemas.validate("program", program)
    assert servicer.fetched_event("ven-a", event["id"])
    assert not servicer.fetched_event("ven-b")
    with pytest.raises(VenError) as caught:
        await ven.event("event-999")
    assert caught.value.status == 404
    with pytest.raises(VenError) as caught:
        await ven.events(limit=51)  # the OpenAPI limit is 50 at most
    assert caught.value.status == 400


async def test_active_filter_drops_events_that_ended(servicer: Servicer, ven: VenClient) -> None:
    program = await servicer.add_program("p")
    now = datetime.now(UTC)
    await servicer.publish_event(
        program["id"],
        start=now - timedelta(hours=2),
        duration_s=3600,
        payload_type="SIMPLE",
        values=[1],
    )
    current = await servicer.publish_event(
        program["id"], start=now, duration_s=3600, payload_type="SIMPLE", values=[2]
    )
    assert len(await ven.events()) == 2
    assert [e["id"] for e in await ven.events(active=True)] == [current["id"]]


async def test_targets_are_granted_requested_and_hidden(servicer: Servicer, ven: VenClient) -> None:
    program = await servicer.add_program("p")
    event = await servicer.publish_event(
        program["id"],
        start=START,
        duration_s=60,
        payload_type="SIMPLE",
        values=[1],
        targets=["group-1", "secret-group"],
    )
    assert await ven.events() == []  # not granted, not asked for
    assert await ven.events(targets=["group-1"]) == []  # asked for, not granted
    servicer.grant_targets("ven-a", ["group-1"])
    assert await ven.events() == []  # granted, not asked for (scope read_targets)
    [served] = await ven.events(targets=["group-1", "secret-group"])
    assert served["id"] == event["id"]
    assert served["targets"] == ["group-1"]  # target hiding
    with pytest.raises(VenError):
        await ven.event(event["id"])
    assert (await ven.event(event["id"], targets=["group-1"]))["id"] == event["id"]


async def test_a_ven_cannot_write_programs_or_events(servicer: Servicer, ven: VenClient) -> None:
    program, event = await published(servicer)
    body = {"programID": program["id"]}
    for method, path in [("POST", "/events"), ("PUT", f"/events/{event['id']}")]:
        with pytest.raises(VenError) as caught:
            await ven.request(method, path, json_body=body)
        assert caught.value.status == 403
        schemas.validate("problem", caught.value.problem)
    with pytest.raises(VenError) as caught:
        await ven.request("DELETE", f"/programs/{program['id']}")
    assert caught.value.status == 403
    assert len(servicer.events()) == 1


async def test_reports_are_kept_in_order(
    servicer: Servicer, ven: VenClient, client_ssl: ssl.SSLContext
) -> None:
    _, event = await published(servicer)
    first = await ven.post_report(soc_report(event["id"], 0.5))
    schemas.validate("report", first)
    assert first["clientID"] == "ven-a" and first["objectType"] == "REPORT"
    second = await ven.post_report(soc_report(event["id"], 0.6))
    updated = await ven.put_report(first["id"], soc_report(event["id"], 0.7))
    assert updated["id"] == first["id"]
    assert updated["createdDateTime"] == first["createdDateTime"]
    records = servicer.reports()
    assert [(r.index, r.operation, r.report["id"]) for r in records] == [
        (0, "CREATE", first["id"]),
        (1, "CREATE", second["id"]),
        (2, "UPDATE", first["id"]),
    ]
    assert [r.payloads()[STORAGE_CHARGE_LEVEL] for r in records] == [[0.5], [0.6], [0.7]]
    assert servicer.reports(since=2) == records[2:]
    async with VenClient(servicer.base_url, "ven-b", "secret-b", ssl=client_ssl) as other:
        assert await other.reports() == []  # reports are private to their VEN
        with pytest.raises(VenError) as caught:
            await other.delete_report(first["id"])
        assert caught.value.status == 404
    assert [r["id"] for r in await ven.reports()] == [first["id"], second["id"]]
    assert (await ven.request("GET", "/reports", params={"eventID": "nope"})) == []
    await ven.delete_report(second["id"])
    assert [r["id"] for r in await ven.reports()] == [first["id"]]
    assert len(servicer.reports()) == 3  # the log keeps what was acknowledged
    with pytest.raises(VenError) as caught:
        await ven.post_report(soc_report("event-404"))
    assert caught.value.status == 409


async def test_vens_and_subscriptions(
    servicer: Servicer, ven: VenClient, client_ssl: ssl.SSLContext
) -> None:
    mine = await ven.register("VEN-A")
    schemas.validate("ven", mine)
    assert (mine["clientID"], mine["venName"], mine["objectType"]) == ("ven-a", "VEN-A", "VEN")
    assert await ven.register("VEN-A") == mine  # registering again finds it
    async with VenClient(servicer.base_url, "ven-b", "secret-b", ssl=client_ssl) as other:
        with pytest.raises(VenError) as caught:
            await other.register("VEN-A")
        assert caught.value.status == 409
        assert await other.request("GET", "/vens") == []
    servicer.grant_targets("ven-a", ["group-1"])
    assert (await ven.request("GET", f"/vens/{mine['id']}"))["targets"] == ["group-1"]
    with pytest.raises(VenError) as caught:
        await ven.request(
            "POST",
            "/vens",
            json_body={"objectType": "BL_VEN_REQUEST", "clientID": "ven-a", "venName": "x"},
        )
    assert caught.value.status == 403
    subscription = await ven.subscribe("https://127.0.0.1:1/cb", client_name="VEN-A")
    schemas.validate("subscription", subscription)
    assert servicer.subscriptions() == [subscription]
    assert await ven.request("GET", "/subscriptions", params={"objects": "EVENT"}) == [subscription]
    assert await ven.request("GET", "/subscriptions", params={"objects": "REPORT"}) == []
    await ven.unsubscribe(subscription["id"])
    assert servicer.subscriptions() == []
    assert [v["id"] for v in servicer.vens()] == [mine["id"]]


async def test_unknown_paths_and_methods_answer_problems(
    servicer: Servicer, ven: VenClient
) -> None:
    for method, path, status in [("GET", "/nothing", 404), ("PATCH", "/events", 405)]:
        with pytest.raises(VenError) as caught:
            await ven.request(method, path)
        assert caught.value.status == status
        schemas.validate("problem", caught.value.problem)


# -- schemas both ways -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "raw", "expected"),
    [
        ("/reports", b"{not json", "not JSON"),
        ("/reports", json.dumps({"eventID": "event-2", "clientName": "VEN-A"}), "'resources'"),
        ("/reports", json.dumps(soc_report("event-2", 55)), "greater than the maximum"),
        (
            "/subscriptions",
            json.dumps({"clientName": "x", "objectOperations": [{}]}),
            "callbackUrl",
        ),
        ("/vens", json.dumps({"venName": "no objectType"}), "objectType"),
        ("/events", json.dumps({"eventName": "no programID"}), "programID"),
    ],
)
async def test_malformed_documents_are_refused_and_recorded(
    servicer: Servicer, ven: VenClient, evidence: EvidenceLog, path: str, raw: bytes | str,
    expected: str,
) -> None:  # fmt: skip
    await published(servicer)
    with pytest.raises(VenError) as caught:
        await ven.request("POST", path, raw=raw)
    assert caught.value.status == 400
    schemas.validate("problem", caught.value.problem)
    [finding] = servicer.findings
    assert (finding.client_id, finding.method, finding.path) == ("ven-a", "POST", path)
    assert finding.peer.startswith("127.0.0.1:")
    assert any(expected in line for line in finding.errors), finding.errors
    if isinstance(raw, bytes):
        assert finding.document == raw.decode()
    else:
        assert finding.document == json.loads(raw)
    [note] = [r for r in evidence if r.summary.startswith("schema violation")]
    assert (note.kind, note.channel) == ("note", "http")
    assert note.values["errors"] == list(finding.errors)
    assert servicer.reports() == []


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("event", {"programID": "p", "intervalPeriod": {"start": "2027-04-01"}}),  # not metadata
        ("eventRequest", {"programID": "p", "intervalPeriod": {"duration": "30 minutes"}}),
        ("eventRequest", {"programID": "p", "intervalPeriod": {"start": "2027-04-01T12:00"}}),
        ("eventRequest", {"programID": "bad id!"}),
        ("eventRequest", {"programID": "p", "intervals": [{"id": 0, "payloads": [{"type": "X"}]}]}),
        ("eventRequest", {"programID": "p", "intervals": [{"payloads": []}]}),
        ("eventRequest", {"programID": "p", "intervals": [{"id": 0, "payloads": [
            {"type": "SIMPLE", "values": [4]}]}]}),
        ("eventRequest", {"programID": "p", "intervals": [{"id": 0, "payloads": [
            {"type": "PRICE", "values": [0.17, 0.18]}]}]}),  # the enumeration: one value
        ("eventRequest", {"programID": "p", "intervals": [{"id": 0, "payloads": [
            {"type": "DISPATCH_SETPOINT", "values": [-1.5]}]}]}),  # the enumeration: minimum 0
        ("reportRequest", {"eventID": "e", "clientName": "c", "resources": [
            {"resourceName": "r", "intervals": [{"id": 0, "payloads": [
                {"type": "USAGE", "values": ["1.0"]}]}]}]}),
        ("subscriptionRequest", {"clientName": "c", "objectOperations": [
            {"objects": ["EVENTS"], "operations": ["CREATE"], "callbackUrl": "https://x/"}]}),
        ("notification", {"objectType": "EVENT", "operation": "POST", "object": {}}),
        ("token", {"access_token": "x", "token_type": "bearer"}),
    ],
)  # fmt: skip
def test_schemas_reject(name: str, document: Any) -> None:
    assert schemas.errors(name, document)
    with pytest.raises(SchemaViolation):
        schemas.validate(name, document)


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("eventRequest", {"programID": "p"}),
        ("eventRequest", {"programID": "p", "intervalPeriod": {
            "start": "0001-01-01", "duration": "P9999Y", "randomizeStart": "PT5M"}}),
        ("eventRequest", {"programID": "p", "duration": "P1DT2H3M4.5S", "targets": None,
                          "eventName": None, "myPrivateObject": {"any": "thing"}}),
        ("eventRequest", {"programID": "p", "intervals": [{"id": 0, "payloads": [
            {"type": "PRICE", "values": [0.17]},
            {"type": "CONTROL_SETPOINT", "values": [3]},
            {"type": "DRREADY_POWER_SETPOINT", "values": [-1.5]},
            {"type": "MY_PRIVATE", "values": ["x", True, 3]},
            {"type": "DRREADY_HEATING_START_TIME", "values": ["13:00"]}]}]}),
        ("reportRequest", {"eventID": "e", "clientName": "c", "resources": [
            {"resourceName": "AGGREGATED_REPORT", "intervals": [{"id": -1, "payloads": [
                {"type": "STORAGE_CHARGE_LEVEL", "values": [0.5]},
                {"type": "OPERATING_STATE", "values": ["RUNNING_CURTAILED"]},
                {"type": "DEMAND", "values": [1200]},
                {"type": "DRREADY_NET_DEMAND", "values": [-1200]}]}]}]}),
        ("venRequest", {"objectType": "VEN_VEN_REQUEST", "venName": "v", "attributes": None}),
        ("problem", {}),
    ],
)  # fmt: skip
def test_schemas_accept(name: str, document: Any) -> None:
    assert schemas.errors(name, document) == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "P9999Y"), (0, "PT0S"), (1800, "PT30M"), (5400.5, "PT1H30M0.5S"), (86400, "PT24H")],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert iso_duration(seconds) == text
    assert duration_seconds(text) == seconds
    assert schemas.is_valid("eventRequest", {"programID": "p", "duration": text})


async def test_our_documents_validate(
    servicer: Servicer, ven: VenClient, evidence: EvidenceLog
) -> None:
    """Every JSON body the servicer sent in a busy exchange validates against its schema."""
    servicer.grant_targets("ven-a", ["g"])
    _, event = await published(
        servicer, targets=["g"], report_descriptors=[{"payloadType": "USAGE"}]
    )
    await ven.register("VEN-A")
    await ven.subscribe("http://127.0.0.1:9/cb", client_name="VEN-A", objects=["EVENT", "REPORT"])
    report = await ven.post_report(soc_report(event["id"]))
    await ven.put_report(report["id"], soc_report(event["id"], 0.9))
    await ven.events(targets=["g"])
    for path in ("/programs", "/reports", "/vens", "/subscriptions", "/nothing"):
        with contextlib.suppress(VenError):
            await ven.request("GET", path)
    await servicer.close()
    schema_of = {
        "programs": "program",
        "events": "event",
        "reports": "report",
        "vens": "ven",
        "subscriptions": "subscription",
    }
    requests = [r for r in evidence if r.kind == "rx" and "method" in r.values]
    answers = [r for r in evidence if r.kind == "tx" and r.channel == "http"]
    checked = 0
    for request, answer in zip(
        requests, [a for a in answers if "status" in a.values], strict=False
    ):
        body = answer.values["body"]
        status = answer.values["status"]
        path = request.values["url"].split("://", 1)[1].split("/", 1)[1].split("?")[0]
        if status >= 400:
            schemas.validate("problem", body)
        elif path == "auth/token":
            continue  # redacted in the evidence; validated in test_token_by_form_and_basic
        else:
            schema = schema_of[path.split("/")[0]]
            for document in body if isinstance(body, list) else [body]:
                schemas.validate(schema, document)
        checked += 1
    assert checked >= 10
    notifications = [r for r in evidence if r.summary.startswith("POST http://127.0.0.1:9/cb")]
    assert notifications  # delivery failed (nobody listens), the document was still checked
    for record in notifications:
        schemas.validate("notification", record.values["body"])
    assert servicer.errors == []


async def test_the_harness_cannot_publish_an_invalid_event(servicer: Servicer) -> None:
    program = await servicer.add_program("p")
    with pytest.raises(SchemaViolation):
        await servicer.publish_event(
            program["id"], start=START, duration_s=60, payload_type="SIMPLE", values=[7]
        )
    with pytest.raises(ValueError, match="naive"):
        await servicer.publish_event(
            program["id"],
            start=datetime(2027, 4, 1),
            duration_s=60,
            payload_type="SIMPLE",
            values=[1],
        )
    with pytest.raises(KeyError):
        await servicer.publish_event(
            "program-404", start=START, duration_s=60, payload_type="SIMPLE", values=[1]
        )
    assert servicer.events() == [] and servicer.errors == []


async def test_an_invalid_document_of_ours_is_a_bug_raised_again_on_exit(
    evidence: EvidenceLog, server_ssl: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ServicerError, match="invalid program"):
        async with Servicer(evidence, clients=CLIENTS, ssl_context=server_ssl) as servicer:
            monkeypatch.setattr(openadr_store, "rfc3339", lambda epoch=None: "yesterday")
            with pytest.raises(ServicerError):
                await servicer.add_program("p")
    assert any(r.summary.startswith("servicer bug") for r in evidence)


async def test_a_fault_in_a_handler_is_a_500_problem_raised_again(
    servicer: Servicer, ven: VenClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(servicer._store, "matches", broken)
    await published(servicer)
    with pytest.raises(VenError) as caught:
        await ven.events()
    assert caught.value.status == 500
    schemas.validate("problem", caught.value.problem)
    with pytest.raises(RuntimeError, match="boom"):
        servicer.check()
    servicer.errors.clear()  # the fixture's exit would raise it again


# -- notifications ---------------------------------------------------------------------------------
async def test_webhook_notifications(servicer: Servicer, ven: VenClient) -> None:
    received: list[tuple[str, dict[str, Any]]] = []

    async def callback(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization", ""), await request.json()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/cb", callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/cb"
        await ven.subscribe(
            url, client_name="VEN-A", objects=["PROGRAM", "EVENT"], bearer_token="cb-token"
        )
        program, event = await published(servicer)
        assert [(n["objectType"], n["operation"]) for _, n in received] == [
            ("PROGRAM", "CREATE"),
            ("EVENT", "CREATE"),
        ]
        request = servicer.event_request(
            program["id"], start=START, duration_s=600, payload_type=DISPATCH_SETPOINT, values=[2]
        )
        await servicer.update_event(event["id"], request)
        await servicer.delete_event(event["id"])
    finally:
        await runner.cleanup()
    assert [n["operation"] for _, n in received][2:] == ["UPDATE", "DELETE"]
    assert {auth for auth, _ in received} == {"Bearer cb-token"}
    for _, notification in received:
        schemas.validate("notification", notification)
    assert received[2][1]["object"]["intervals"][0]["payloads"][0]["values"] == [2]
    assert all(d.ok for d in servicer.deliveries) and len(servicer.deliveries) == 4


async def test_a_failed_delivery_is_a_note_not_an_exception(
    servicer: Servicer, ven: VenClient, evidence: EvidenceLog
) -> None:
    await ven.subscribe("http://127.0.0.1:9/nobody", client_name="VEN-A")
    await published(servicer)
    [delivery] = servicer.deliveries
    assert not delivery.ok and delivery.status is None and delivery.error
    assert any(r.summary.startswith("notification failed") for r in evidence)


async def test_report_notifications_reach_only_their_owner(
    servicer: Servicer, ven: VenClient, client_ssl: ssl.SSLContext
) -> None:
    async with VenClient(servicer.base_url, "ven-b", "secret-b", ssl=client_ssl) as other:
        await other.subscribe("http://127.0.0.1:9/b", client_name="VEN-B", objects=["REPORT"])
        _, event = await published(servicer)
        await ven.post_report(soc_report(event["id"]))
    await servicer.close()  # waits for the notification tasks
    assert servicer.deliveries == []


# -- bounded waits ---------------------------------------------------------------------------------
async def test_wait_for_report_and_poll(servicer: Servicer, ven: VenClient) -> None:
    _, event = await published(servicer)
    mark = openadr_server.now_epoch()
    waiting = asyncio.ensure_future(
        servicer.wait_for_report(lambda r: STORAGE_CHARGE_LEVEL in r.payloads(), timeout_s=5)
    )
    polled = asyncio.ensure_future(servicer.wait_for_poll("ven-a", mark, timeout_s=5))
    await ven.events()
    await ven.post_report(soc_report(event["id"], 0.25))
    record = await waiting
    assert record.payloads()[STORAGE_CHARGE_LEVEL] == [0.25]
    poll = await polled
    assert poll.path == "/events" and poll.status == 200 and poll.event_ids == (event["id"],)
    again = await servicer.wait_for_report(lambda r: True, timeout_s=1, since=0)
    assert again == record
    with pytest.raises(ServicerTimeout):
        await servicer.wait_for_report(lambda r: True, timeout_s=0.05)
    with pytest.raises(ServicerTimeout):
        await servicer.wait_for_poll("ven-b", mark, timeout_s=0.05)


async def test_a_closed_servicer_forgets_its_records(servicer: Servicer, ven: VenClient) -> None:
    """Once the run is over the session lets it drop what it kept for the verdicts (the evidence
    holds every exchange), so the bundle written next has the memory; not while it serves."""
    _, event = await published(servicer)
    await ven.post_report(soc_report(event["id"], 0.5))
    assert servicer.reports() and servicer.requests and servicer.events()
    with pytest.raises(ServicerError, match="close the servicer"):
        servicer.forget()
    await servicer.close()
    servicer.forget()
    assert (servicer.reports(), servicer.requests, servicer.events(), servicer.vens()) == (
        [],
        [],
        [],
        [],
    )
    assert servicer.report_count() == 0
