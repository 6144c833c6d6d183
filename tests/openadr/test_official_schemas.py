"""The OpenADR 3 schemas are the official documents': shipped verbatim, transcoded faithfully,
derived mechanically, selectable per release, and enforced by the servicer on every object type
it takes."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme

from drready.errors import UsageError
from drready.evidence import EvidenceLog
from drready.openadr import openapi
from drready.openadr import validation as schemas
from drready.openadr.server import Servicer
from drready.openadr.ven import VenClient, VenError
from tests.helpers import mutants

VERSIONS = schemas.SPEC_VERSIONS
SPEC = openapi.spec_directory()
NOW = "2027-04-01T12:00:00Z"
META = {"id": "x-1", "createdDateTime": NOW, "modificationDateTime": NOW}


# -- the files ----------------------------------------------------------------------------------
def test_the_specification_ships_with_its_licence() -> None:
    assert "Apache License" in (SPEC / "LICENSE").read_text(encoding="utf-8")
    assert "OpenADR Alliance" in (SPEC / "NOTICE").read_text(encoding="utf-8")
    for version in VERSIONS:
        assert (
            (SPEC / version / "openadr3.yaml")
            .read_text(encoding="utf-8")
            .startswith("openapi: 3.0.0")
        )


@pytest.mark.parametrize("version", VERSIONS)
def test_spec_json_is_the_yaml_transcoded(version: str) -> None:
    pytest.importorskip("yaml")
    shipped = json.loads((SPEC / version / "spec.json").read_text(encoding="utf-8"))
    assert shipped == openapi.transcode(SPEC / version), (
        "spec.json is stale: rebuild it with "
        "python -c 'from drready.openadr.openapi import *; "
        f'write_transcoded(spec_directory() / "{version}")\''
    )


def test_a_release_drready_does_not_ship_is_refused() -> None:
    with pytest.raises(KeyError, match=r"3\.2\.0"):
        schemas.validator("event", "3.2.0")
    with pytest.raises(KeyError):
        Servicer(EvidenceLog(time.time), clients={}, ssl_context=None, spec_version="3.0.1")


def test_a_profile_names_its_release(tmp_path: Path) -> None:
    from drready.profile import load_profile

    builtin = Path(__file__).resolve().parents[2] / "drready/profile/builtin"
    text = (builtin / "battery-openadr3.toml").read_text(encoding="utf-8")
    assert 'version = "3.1.0"' in text
    assert load_profile(builtin / "battery-openadr3.toml").openadr3.version == "3.1.0"  # type: ignore[union-attr]
    newer = tmp_path / "newer.toml"
    newer.write_text(text.replace('version = "3.1.0"', 'version = "3.1.1"'), encoding="utf-8")
    assert load_profile(newer).openadr3.version == "3.1.1"  # type: ignore[union-attr]
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(text.replace('version = "3.1.0"', 'version = "3.2"'), encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_profile(unknown)
    message = str(caught.value)
    assert "unknown.toml" in message and "openadr3.version" in message and "\n" not in message


# -- the derivation -----------------------------------------------------------------------------
def test_the_derived_documents_are_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    for version in VERSIONS:
        Draft202012Validator.check_schema(schemas.schema_document(version))


def test_openapi_dialect_is_converted() -> None:
    converted = openapi.convert(
        {
            "type": "object",
            "properties": {
                "a": {"type": "string", "nullable": True, "example": "x"},
                "b": {"type": "integer", "maximum": 600, "exclusiveMaximum": True},
                "c": {"type": "integer", "format": "int32"},
                "d": {"$ref": "#/components/schemas/point", "nullable": True},
                "e": {"enum": ["A"], "type": "string", "nullable": True},
                "f": {"oneOf": [{"type": "number"}, {"type": "integer"}, {"type": "string"}]},
            },
            "discriminator": {"propertyName": "a"},
        }
    )
    properties = converted["properties"]
    assert "discriminator" not in converted
    assert properties["a"] == {"type": ["string", "null"]}
    assert properties["b"] == {"type": "integer", "exclusiveMaximum": 600}
    assert properties["c"]["minimum"] == -(2**31) and properties["c"]["maximum"] == 2**31 - 1
    assert properties["d"] == {"anyOf": [{"$ref": "#/$defs/point"}, {"type": "null"}]}
    assert properties["e"]["enum"] == ["A", None]
    assert properties["f"] == {"oneOf": [{"type": "number"}, {"type": "string"}]}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "readOnly": True},
        {"$ref": "other.yaml#/X"},
        {"type": "number", "exclusiveMinimum": True},
        {"nullable": True},
    ],
)
def test_what_the_converter_does_not_know_stops_the_derivation(schema: dict[str, Any]) -> None:
    with pytest.raises(openapi.DerivationError):
        openapi.convert(schema)


def test_the_erratum_is_needed_and_enough() -> None:
    from jsonschema import Draft202012Validator

    spec = schemas.spec(schemas.DEFAULT_VERSION)
    defs = {
        name: openapi.convert(schema)
        for name, schema in spec["openapi"]["components"]["schemas"].items()
    }
    raw = {"$defs": defs, "$ref": "#/$defs/ven"}
    ven = {**META, "objectType": "VEN", "clientID": "c", "venName": "v"}
    for object_type in ("VEN", "BL_VEN_REQUEST"):  # as written, no objectType will do
        assert not Draft202012Validator(raw).is_valid({**ven, "objectType": object_type})
    assert schemas.errors("ven", ven) == []
    assert schemas.errors("resource", {**ven, "objectType": "RESOURCE", "resourceName": "r",
                                       "venID": "v-1"}) == []  # fmt: skip


def test_validators_are_compiled_once() -> None:
    assert schemas.validator("report", "3.1.1") is schemas.validator("report", "3.1.1")
    assert schemas.validator("report", "3.1.0") is not schemas.validator("report", "3.1.1")


# -- every object type, both ways, each release -------------------------------------------------
def _report(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "eventID": "event-1",
        "clientName": "ven",
        "resources": [{"resourceName": "r", "intervals": [{"id": 0, "payloads": payloads}]}],
    }


_PROGRAM = {"programName": "p", "attributes": [{"type": "COUNTRY", "values": ["JP"]}]}
_EVENT = {
    "programID": "program-1",
    "intervalPeriod": {"start": NOW, "duration": "PT30M"},
    "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [2]}]}],
}
_SUBSCRIPTION = {
    "clientName": "ven",
    "objectOperations": [
        {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "https://127.0.0.1/cb"}
    ],
}
_BAD_SUBSCRIPTION = {**_SUBSCRIPTION, "objectOperations": [
    {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "not a URI"}]}  # fmt: skip
_VEN_REQUEST = {"objectType": "VEN_VEN_REQUEST", "venName": "v"}
_RESOURCE_REQUEST = {"objectType": "VEN_RESOURCE_REQUEST", "resourceName": "r", "venID": "v-1"}
_SERVED_VEN = {**META, "objectType": "VEN", "clientID": "c", "venName": "v"}

#: (schema, a valid document, the same made invalid under the official schema).
CASES: list[tuple[str, Any, Any]] = [
    ("programRequest", _PROGRAM, {**_PROGRAM, "programName": ""}),
    ("programRequest", _PROGRAM, {**_PROGRAM, "attributes": [{"type": "COUNTRY", "values": [81]}]}),
    ("program", {**META, "objectType": "PROGRAM", **_PROGRAM}, _PROGRAM),
    ("eventRequest", _EVENT, {**_EVENT, "priority": -1}),
    ("event", {**META, "objectType": "EVENT", **_EVENT},
     {**META, "objectType": "EVENTS", **_EVENT}),
    ("reportRequest", _report([{"type": "STORAGE_CHARGE_LEVEL", "values": [0.5]}]),
     _report([{"type": "STORAGE_CHARGE_LEVEL", "values": [50]}])),
    ("report", {**META, "objectType": "REPORT", "clientID": "c", **_report([])},
     {**META, "objectType": "REPORT", **_report([])}),
    ("subscriptionRequest", _SUBSCRIPTION, _BAD_SUBSCRIPTION),
    ("subscription", {**META, "objectType": "SUBSCRIPTION", "clientID": "c", **_SUBSCRIPTION},
     {**META, "objectType": "SUBSCRIPTION", "clientID": "", **_SUBSCRIPTION}),
    ("venRequest", _VEN_REQUEST, {**_VEN_REQUEST, "objectType": "VEN"}),
    ("venRequest", {**_VEN_REQUEST, "attributes": [{"type": "LOCATION", "values": [139.7, 35.7]}]},
     {**_VEN_REQUEST, "attributes": [{"type": "LOCATION", "values": [139.7]}]}),
    ("ven", _SERVED_VEN, {**_SERVED_VEN, "createdDateTime": "2027-04-01 12:00"}),
    ("resourceRequest", _RESOURCE_REQUEST, {**_RESOURCE_REQUEST, "venID": "v 1"}),
    ("resource", {**META, "objectType": "RESOURCE", "clientID": "c", "resourceName": "r",
                  "venID": "v-1"}, {**META, "objectType": "RESOURCE", "resourceName": "r"}),
    ("notification", {"objectType": "VEN", "operation": "UPDATE", "object": _SERVED_VEN},
     {"objectType": "VEN", "operation": "UPDATE", "object": _VEN_REQUEST}),
    ("clientCredentialRequest",
     {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"},
     {"grant_type": "password", "client_id": "a", "client_secret": "b"}),
    ("token", {"access_token": "t", "token_type": "Bearer", "expires_in": 3600},
     {"access_token": "t", "token_type": "Bearer", "expires_in": "3600"}),
    ("authError", {"error": "invalid_client"}, {"error": "invalid client"}),
    ("problem", {"status": 400, "title": "Bad Request", "instance": "https://x/reports"},
     {"status": 600}),
    ("authServerInfo", {"tokenURL": "https://x/auth/token"}, {"tokenURL": "/auth/token"}),
    ("notifiersResponse", {"WEBHOOK": True}, {"MQTT": None}),
]  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("name", "valid", "invalid"), CASES)
def test_valid_accepted_and_invalid_refused(
    version: str, name: str, valid: Any, invalid: Any
) -> None:
    assert schemas.errors(name, valid, version) == []
    assert schemas.errors(name, invalid, version)


@pytest.mark.parametrize("name", sorted({name for name, _valid, _invalid in CASES}))
def test_the_compiled_schemas_agree_with_jsonschema_on_every_mutant(name: str) -> None:
    """The fast path (jsonschema-rs) only ever answers "valid"; it must never pass what the
    reference validator refuses, nor refuse what it passes (that would cost only time)."""
    refused = 0
    for _name, valid, invalid in (case for case in CASES if case[0] == name):
        for document in (valid, invalid, *mutants(valid)):
            reference = not list(schemas.validator(name).iter_errors(document))
            assert schemas._compiled(name, schemas.DEFAULT_VERSION).is_valid(document) == (
                reference
            ), document
            assert (schemas.errors(name, document) == []) == reference, document
            refused += not reference
    assert refused > 0


def test_every_schema_name_has_a_case() -> None:
    covered = {name for name, _valid, _invalid in CASES}
    parts = {"valuesMap", "eventPayload", "reportPayload", "reportPayloadDescriptor"}
    assert covered | parts == set(schemas.SCHEMA_NAMES)


def test_the_releases_are_the_same_document_today() -> None:
    """3.1.1 changed the prose, not the OpenAPI document or the enumerations: when a later
    release differs, this fails and the per-release cases above need its differences."""
    assert schemas.spec("3.1.0") == schemas.spec("3.1.1")


# -- through the servicer -------------------------------------------------------------------------
CLIENTS = {"ven-a": "secret-a"}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def evidence() -> Iterator[EvidenceLog]:
    log = EvidenceLog(time.time)
    yield log
    log.close()


@pytest.fixture(params=VERSIONS)
async def servicer(
    request: pytest.FixtureRequest, evidence: EvidenceLog, ca: trustme.CA
) -> AsyncIterator[Servicer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    async with Servicer(
        evidence, clients=CLIENTS, ssl_context=context, spec_version=request.param
    ) as running:
        yield running


@pytest.fixture
def client_ssl(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


#: (path, what a VEN may send, the same made invalid, the status a valid body gets).
#: Programs and events are business logic's: a VEN's body is checked, then refused with 403.
ROUTES = [
    ("/vens", _VEN_REQUEST, {**_VEN_REQUEST, "venName": ""}, 201),
    ("/subscriptions", _SUBSCRIPTION, _BAD_SUBSCRIPTION, 201),
    ("/reports", "report", "bad report", 201),
    ("/programs", _PROGRAM, {**_PROGRAM, "programName": ""}, 403),
    ("/events", "event", "bad event", 403),
]


async def _status(ven: VenClient, path: str, body: Any) -> int:
    try:
        await ven.request("POST", path, json_body=body)
    except VenError as error:
        return error.status
    return 201


@pytest.mark.parametrize(("path", "valid", "invalid", "accepted"), ROUTES)
async def test_the_servicer_holds_each_route_to_its_release(
    servicer: Servicer, client_ssl: ssl.SSLContext, path: str, valid: Any, invalid: Any,
    accepted: int,
) -> None:  # fmt: skip
    program = await servicer.add_program("p")
    event = await servicer.publish_event(
        program["id"],
        start=datetime(2027, 4, 1, 12, tzinfo=UTC),
        duration_s=600,
        payload_type="SIMPLE",
        values=[1],
    )
    if valid == "report":
        valid = {**_report([{"type": "USAGE", "values": [1.5]}]), "eventID": event["id"]}
        invalid = {**_report([{"type": "USAGE", "values": [-1.5]}]), "eventID": event["id"]}
    if valid == "event":
        valid, invalid = {"programID": program["id"]}, {"programID": program["id"], "priority": -1}
    async with VenClient(servicer.base_url, "ven-a", "secret-a", ssl=client_ssl) as ven:
        assert await _status(ven, path, valid) == accepted
        assert servicer.findings == []
        assert await _status(ven, path, invalid) == 400
    [finding] = servicer.findings
    assert finding.path == path and finding.document == invalid and finding.errors


async def test_the_token_route_holds_its_form(
    servicer: Servicer, client_ssl: ssl.SSLContext
) -> None:
    url = servicer.base_url + "/auth/token"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl)) as http:
        good = {
            "grant_type": "client_credentials",
            "client_id": "ven-a",
            "client_secret": "secret-a",
        }
        async with http.post(url, data=good) as response:
            assert response.status == 200
            schemas.validate("token", await response.json(), servicer.spec_version)
        async with http.post(url, data={**good, "grant_type": "password"}) as response:
            assert response.status == 400
            assert (await response.json())["error"] == "unsupported_grant_type"
    [finding] = servicer.findings
    assert finding.schema == "clientCredentialRequest"
