"""The harness's ECHONET Lite Web API client against the reference maker cloud, over real TLS."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme
from drready.simulators.battery import BATTERY_EOJ
from drready.simulators.maker_cloud import (
    MALFORMATIONS,
    EchonetBridgeBackend,
    InMemoryBackend,
    MakerCloud,
    MakerCloudConfig,
)
from drready.simulators.runtime import SimulatedBattery

from drready.clock import LoopRunner, VirtualClock
from drready.echonet.codec import ECHONET_LITE_PORT
from drready.echonet.gateway import Gateway
from drready.echonet.transport import MemoryNetwork
from drready.evidence import EvidenceLog
from drready.webapi import validation as schemas
from drready.webapi.client import (
    SchemaViolation,
    WebApiClient,
    WebApiHttpError,
)
from tests.helpers import mutants

HOST = "127.0.0.1"
SECRET = "s3cret-for-tests-only"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    return context


def _client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def _battery() -> InMemoryBackend:
    return InMemoryBackend(
        0x027D,
        {
            "operationStatus": True,
            "operationMode": "standby",
            "chargingPower": 1000,
            "remainingCapacity3": 50,
            "serialNumber": "SN-0001",
            "manufacturer": {"code": "0x000077"},
            "protocol": {"type": "ECHONET_Lite", "version": "Rel.R"},
        },
        refuse=lambda name, value: name == "chargingPower" and value > 5000,
    )


@asynccontextmanager
async def running(
    ca: trustme.CA, config: MakerCloudConfig | None = None, **devices: Any
) -> AsyncIterator[tuple[MakerCloud, WebApiClient, EvidenceLog]]:
    evidence = EvidenceLog(time.time)
    config = config or MakerCloudConfig(client_secret=SECRET)
    config.client_secret = SECRET
    backends = devices or {"battery-1": _battery()}
    async with MakerCloud(
        backends, config, evidence=evidence, ssl_context=_server_context(ca), host=HOST
    ) as cloud:
        assert cloud.url is not None
        client = WebApiClient(
            cloud.url, config.client_id, SECRET, ssl=_client_context(ca), evidence=evidence
        )
        try:
            yield cloud, client, evidence
        finally:
            await client.close()
    cloud.check()


# -- the endpoints ---------------------------------------------------------------------------
async def test_every_endpoint_over_tls(ca: trustme.CA) -> None:
    async with running(ca) as (cloud, client, evidence):
        devices = await client.devices()
        assert devices == [
            {
                "id": "battery-1",
                "deviceType": "storageBattery",
                "protocol": {"type": "ECHONET_Lite", "version": "Rel.R"},
                "manufacturer": {"code": "0x000077"},
            }
        ]
        description = await client.description("battery-1")
        assert description["eoj"] == "0x027D"
        mode = description["properties"]["operationMode"]
        assert (mode["epc"], mode["writable"]) == ("0xDA", True)
        assert description["properties"]["serialNumber"]["writable"] is False
        values = await client.properties("battery-1")
        assert values["operationStatus"] is True and values["serialNumber"] == "SN-0001"
        assert await client.get("battery-1", "operationMode") == "standby"
        assert await client.set("battery-1", "operationMode", "charging") == "charging"
        assert await client.get("battery-1", "operationMode") == "charging"
        assert cloud.executed == [("battery-1", "operationMode", "charging")]
    kinds = [(r.kind, r.channel) for r in evidence]
    assert ("tx", "http") in kinds and ("rx", "http") in kinds
    assert not any("s3cret" in r.line() for r in evidence), "a credential reached the evidence"


async def test_errors_are_typed_with_the_error_document(ca: trustme.CA) -> None:
    async with running(ca) as (_cloud, client, _evidence):
        with pytest.raises(WebApiHttpError) as missing:
            await client.get("battery-1", "chargingCurrent")
        assert missing.value.status == 404
        assert missing.value.document["type"] == "referenceError"
        with pytest.raises(WebApiHttpError) as refused:
            await client.set("battery-1", "chargingPower", 6000)
        assert (refused.value.status, refused.value.document["type"]) == (400, "deviceError")
        with pytest.raises(WebApiHttpError) as read_only:
            await client.set("battery-1", "serialNumber", "X")
        assert read_only.value.status == 405
        with pytest.raises(WebApiHttpError) as nowhere:
            await client.description("no-such-device")
        assert nowhere.value.status == 404


async def test_our_documents_are_checked_before_sending(ca: trustme.CA) -> None:
    async with running(ca) as (cloud, client, evidence):
        with pytest.raises(SchemaViolation) as caught:
            await client.set("battery-1", "operationMode", 7)
        assert caught.value.direction == "request"
        assert cloud.executed == []
        # ... and the cloud refuses one that breaks the property's schema all the same.
        answer = await client.raw(
            "PUT", "/elapi/v1/devices/battery-1/properties/operationMode", body={"operationMode": 7}
        )
        assert answer.status == 400 and answer.document["type"] == "typeError"
        assert cloud.executed == []
    assert any(r.summary.startswith("schema violation") for r in evidence)


#: (path, document kind) of what the reference cloud serves: every kind but the token,
#: the last two errors (no such property; a wrong token).
SERVED = (
    ("/elapi/v1/devices", schemas.DEVICES),
    ("/elapi/v1/devices/battery-1", schemas.DEVICE),
    ("/elapi/v1/devices/battery-1/properties", schemas.PROPERTIES),
    ("/elapi/v1/devices/battery-1/properties/operationMode", schemas.PROPERTY),
    ("/elapi/v1/devices/battery-1/properties/nothing", schemas.ERROR),
    ("/elapi/v1/devices/battery-1", schemas.ERROR),
)


async def test_the_clouds_documents_validate(ca: trustme.CA) -> None:
    async with running(ca) as (_cloud, client, _evidence):
        for path, name in SERVED:
            answer = await client.raw("GET", path, token=name != schemas.ERROR or "nope")
            assert answer.status is not None
            assert schemas.problems(name, answer.document) == [], path
        token = await client.token_request()
        assert schemas.problems(schemas.TOKEN, token.document) == []
        assert token.headers["Cache-Control"] == "no-store"
    # cloud.check() (in running) raises if any document of its own broke its schema


async def test_the_compiled_schemas_agree_with_jsonschema_on_every_mutant(ca: trustme.CA) -> None:
    """The fast path (jsonschema-rs) only ever answers "valid": on every document the cloud
    serves and every one-value mutant of it, it must agree with the reference validator."""
    documents: list[tuple[str, Any]] = []
    async with running(ca) as (_cloud, client, _evidence):
        for path, name in SERVED[:-1]:
            answer = await client.raw("GET", path)
            documents.append((name, answer.document))
        documents.append((schemas.TOKEN, (await client.token_request()).document))
    refused = 0
    for name, valid in documents:
        for document in (valid, *mutants(valid)):
            reference = not list(schemas._validator(name).iter_errors(document))
            assert schemas._compiled(name).is_valid(document) == reference, (name, document)
            assert (schemas.problems(name, document) == []) == reference, (name, document)
            refused += not reference
    assert refused > 0


@pytest.mark.parametrize("name", schemas.DOCUMENTS)
def test_the_document_schemas_check_no_format(name: str) -> None:
    """The fast path skips format checks; the reference validator would make them."""
    assert '"format"' not in json.dumps(schemas.load_schema(name))


# -- malformed documents ---------------------------------------------------------------------
async def _call_for(document: str, client: WebApiClient) -> None:
    calls: dict[str, Callable[[], Any]] = {
        schemas.DEVICES: client.devices,
        schemas.DEVICE: lambda: client.description("battery-1"),
        schemas.PROPERTIES: lambda: client.properties("battery-1"),
        schemas.PROPERTY: lambda: client.get("battery-1", "operationMode"),
        schemas.ERROR: lambda: client.get("battery-1", "noSuchProperty"),
        schemas.TOKEN: client.devices,
    }
    await calls[document]()


@pytest.mark.parametrize("document", sorted(MALFORMATIONS))
async def test_each_malformed_document_is_caught(ca: trustme.CA, document: str) -> None:
    config = MakerCloudConfig(malformed_documents=frozenset({document}))
    async with running(ca, config) as (_cloud, client, evidence):
        with pytest.raises(SchemaViolation) as caught:
            await _call_for(document, client)
        assert caught.value.document_name == document
        assert caught.value.errors
    notes = [r for r in evidence if r.kind == "note" and r.summary.startswith("schema violation")]
    assert notes, "the violation was not noted in the evidence before raising"
    assert notes[-1].channel == "http"
    assert set(notes[-1].values) >= {"document", "errors"}


# -- the bridge to an ECHONET Lite device ----------------------------------------------------
async def test_bridge_to_the_reference_battery_simulator(ca: trustme.CA) -> None:
    evidence = EvidenceLog(time.time)
    network = MemoryNetwork()
    sim_address = ("127.0.0.2", ECHONET_LITE_PORT)

    async def endpoint(handler: Any) -> Any:
        return network.endpoint(handler, *sim_address)

    gateway = Gateway(evidence, timeout_s=0.5, retries=1)
    gateway.attach(network.endpoint(gateway.datagram_received, HOST, ECHONET_LITE_PORT))
    async with SimulatedBattery(endpoint) as simulator:
        backend = await EchonetBridgeBackend.open(gateway, sim_address, BATTERY_EOJ)
        async with running(ca, **{"home-battery": backend}) as (_cloud, client, _ev):
            description = await client.description("home-battery")
            assert description["deviceType"] == "storageBattery"
            values = await client.properties("home-battery")
            assert values["operationStatus"] is True
            assert values["serialNumber"] == simulator.config.serial_number
            await client.set("home-battery", "operationMode", "standby")
            assert await client.get("home-battery", "operationMode") == "standby"
            with pytest.raises(WebApiHttpError) as refused:
                await client.set("home-battery", "operationMode", "test")
            assert refused.value.status == 400
        simulator.check()
    gateway.close()
    assert any(r.channel == "echonet" for r in evidence)


# -- every security switch -------------------------------------------------------------------
PROPS = "/elapi/v1/devices/battery-1/properties"
MODE = PROPS + "/operationMode"


async def test_auth_required_by_default_and_switchable(ca: trustme.CA) -> None:
    async with running(ca) as (_cloud, client, _ev):
        assert (await client.raw("GET", PROPS, token=False)).status == 401
        wrong = await client.raw("GET", PROPS, token="not-a-token")
        assert wrong.status == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
        assert (await client.raw("GET", PROPS)).status == 200
    async with running(ca, MakerCloudConfig(require_auth=False)) as (_cloud, client, _ev):
        open_answer = await client.raw("GET", PROPS, token=False)
        assert open_answer.status == 200
        assert "serialNumber" not in open_answer.document  # identity still withheld
        assert (await client.raw("GET", PROPS + "/serialNumber", token=False)).status == 401


async def test_credentials_checked_and_switchable(ca: trustme.CA) -> None:
    async with running(ca) as (_cloud, client, _ev):
        assert (await client.token_request(client_secret="wrong")).status == 401
        assert (await client.token_request()).status == 200
    async with running(ca, MakerCloudConfig(check_credentials=False)) as (_cloud, client, _ev):
        assert (await client.token_request(client_secret="wrong")).status == 200
        assert (await client.raw("GET", PROPS, token="anything-at-all")).status == 200


async def test_replay_guard_and_its_switch(ca: trustme.CA) -> None:
    body = {"operationMode": "charging"}
    async with running(ca) as (cloud, client, _ev):
        first = await client.raw("PUT", MODE, body=body, request_id="req-1")
        replayed = await client.raw("PUT", MODE, body=body, request_id="req-1")
        stale = await client.raw(
            "PUT", MODE, body=body, date=datetime.now(UTC) - timedelta(hours=1)
        )
        bare = await client.raw("PUT", MODE, body=body, replay_guard=False)
        assert (first.status, replayed.status, stale.status, bare.status) == (200, 409, 409, 400)
        assert len(cloud.executed) == 1, "a refused control request was executed"
    async with running(ca, MakerCloudConfig(replay_guard=False)) as (cloud, client, _ev):
        for _ in range(2):
            answer = await client.raw("PUT", MODE, body=body, request_id="req-1")
            assert answer.status == 200
        assert len(cloud.executed) == 2


async def test_plain_http_is_not_served_unless_switched_on(ca: trustme.CA) -> None:
    async with running(ca) as (cloud, client, _ev):
        assert cloud.plain_url is None
        answer = await client.raw("GET", PROPS, plain_http=True)
        assert answer.status is None or answer.status >= 400
        assert answer.status != 200
    async with running(ca, MakerCloudConfig(also_plain_http=True)) as (cloud, client, _ev):
        assert cloud.plain_url is not None and cloud.plain_url.startswith("http://")
        control = await client.raw(
            "PUT", MODE, body={"operationMode": "charging"}, base_url=cloud.plain_url
        )
        assert control.status == 200


async def test_repeated_bad_credentials_lock_the_peer_out(ca: trustme.CA) -> None:
    async with running(ca) as (_cloud, client, _ev):
        statuses = [(await client.token_request(client_secret="bad")).status for _ in range(5)]
        assert statuses == [401] * 5
        locked = await client.token_request()  # the right credentials, still refused
        assert locked.status == 429 and int(locked.headers["Retry-After"]) > 0
        assert (await client.raw("GET", PROPS, token="x")).status == 429
    async with running(ca, MakerCloudConfig(rate_limit=False)) as (_cloud, client, _ev):
        for _ in range(6):
            await client.token_request(client_secret="bad")
        assert (await client.token_request()).status == 200


async def test_identity_not_served_unauthenticated_unless_public(ca: trustme.CA) -> None:
    serial = PROPS + "/serialNumber"
    async with running(ca) as (_cloud, client, _ev):
        assert (await client.raw("GET", serial, token=False)).status == 401
        devices = await client.raw("GET", "/elapi/v1/devices", token=False)
        assert devices.status == 401
    async with running(ca, MakerCloudConfig(identity_public=True)) as (_cloud, client, _ev):
        answer = await client.raw("GET", serial, token=False)
        assert (answer.status, answer.document) == (200, {"serialNumber": "SN-0001"})
        assert (await client.raw("GET", PROPS, token=False)).status == 401


# -- virtual time ----------------------------------------------------------------------------
def test_client_and_cloud_in_virtual_time(ca: trustme.CA) -> None:
    server_context, client_context = _server_context(ca), _client_context(ca)
    clock = VirtualClock()
    runner = LoopRunner(clock)
    evidence = EvidenceLog(clock.now)
    config = MakerCloudConfig(client_secret=SECRET, lockout_s=600.0)
    cloud = MakerCloud(
        {"battery-1": _battery()}, config, evidence=evidence, ssl_context=server_context
    )

    async def scenario() -> tuple[int | None, int | None, Any]:
        url = await cloud.start()
        client = WebApiClient(url, config.client_id, SECRET, ssl=client_context, evidence=evidence)
        try:
            await client.set("battery-1", "operationMode", "discharging")
            for _ in range(5):
                await client.token_request(client_secret="bad")
            locked = (await client.token_request()).status
            await asyncio.sleep(601.0)  # ten minutes, virtually
            unlocked = (await client.token_request()).status
            return locked, unlocked, await client.get("battery-1", "operationMode")
        finally:
            await client.close()
            await cloud.close()

    started = time.monotonic()
    try:
        locked, unlocked, mode = runner.run(scenario())
    finally:
        runner.close()
    assert (locked, unlocked, mode) == (429, 200, "discharging")
    assert clock.elapsed_s >= 600.0
    assert time.monotonic() - started < 10.0
    cloud.check()
    records = list(evidence)
    assert records[-1].time >= records[0].time + 600  # evidence is stamped in virtual time


async def test_device_list_pages(ca: trustme.CA) -> None:
    async with running(ca, None, a=_battery(), b=_battery()) as (_cloud, client, _ev):
        page = await client.raw("GET", "/elapi/v1/devices?limit=1&offset=1")
        assert page.document["hasMore"] is False and page.document["devices"][0]["id"] == "b"
        first = await client.raw("GET", "/elapi/v1/devices?limit=1")
        assert first.document["hasMore"] is True
        assert [d["id"] for d in await client.devices()] == ["a", "b"]
        assert (await client.raw("GET", "/elapi/v1/devices?limit=0")).status == 400


# -- several properties at once --------------------------------------------------------------
async def test_several_properties_read_and_written_together(ca: trustme.CA) -> None:
    async with running(ca) as (cloud, client, _ev):
        some = await client.properties("battery-1", ["operationMode", "chargingPower", "nothing"])
        assert some == {"operationMode": "standby", "chargingPower": 1000}
        written = await client.set_many(
            "battery-1", {"operationMode": "charging", "chargingPower": 2000}
        )
        assert written == {"operationMode": "charging", "chargingPower": 2000}
        assert cloud.executed[-2:] == [
            ("battery-1", "operationMode", "charging"),
            ("battery-1", "chargingPower", 2000),
        ]
        # All or nothing: one refused value (6000 W) and neither is written.
        with pytest.raises(WebApiHttpError) as refused:
            await client.set_many("battery-1", {"operationMode": "standby", "chargingPower": 6000})
        assert refused.value.status == 400
        assert await client.get("battery-1", "operationMode") == "charging"
        bare = await client.raw("PUT", PROPS, body={"operationMode": "standby"}, replay_guard=False)
        assert bare.status == 400, "the replay guard covers the properties resource too"
        assert (await client.raw("PUT", PROPS, body={"serialNumber": "X"})).status == 405


async def test_bridge_serves_the_maker_items_of_a_mapping(ca: trustme.CA) -> None:
    from drready.simulators.water_heater import WaterHeaterConfig, eoj_for
    from drready.simulators.water_heater_runtime import SimulatedWaterHeater

    from drready.profile import default_profile

    evidence = EvidenceLog(time.time)
    network = MemoryNetwork()
    sim_address = ("127.0.0.2", ECHONET_LITE_PORT)

    async def endpoint(handler: Any) -> Any:
        return network.endpoint(handler, *sim_address)

    gateway = Gateway(evidence, timeout_s=0.5, retries=1)
    gateway.attach(network.endpoint(gateway.datagram_received, HOST, ECHONET_LITE_PORT))
    mapping = default_profile("hybrid", "webapi").mapping
    config = WaterHeaterConfig.for_class("hybrid")
    config.mapping = dict(mapping)
    async with SimulatedWaterHeater(endpoint, config) as simulator:
        backend = await EchonetBridgeBackend.open(
            gateway, sim_address, eoj_for("hybrid"), mapping=mapping
        )
        async with running(ca, **{"hybrid": backend}) as (_cloud, client, _ev):
            description = await client.description("hybrid")
            entry = description["properties"]["drStartTimeS"]
            assert (entry["epc"], entry["writable"], entry["schema"]["type"]) == (
                "0xF1",
                True,
                "integer",
            )
            values = await client.properties("hybrid", ["drStartTimeS", "drPossibleWh"])
            assert set(values) == {"drStartTimeS", "drPossibleWh"}
        simulator.check()
    gateway.close()
