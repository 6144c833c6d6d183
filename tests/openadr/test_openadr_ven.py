"""The VEN client (drready.openadr.ven) against the servicer: comms loss, hostile servers,
TLS, and a few virtual hours of polling on drready's virtual-time loop."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
import trustme
from aiohttp import web

from drready.clock import LoopRunner, VirtualClock, real_monotonic
from drready.evidence import EvidenceLog
from drready.openadr import validation as schemas
from drready.openadr.server import Servicer, now_epoch
from drready.openadr.validation import DISPATCH_SETPOINT, STORAGE_CHARGE_LEVEL
from drready.openadr.ven import VenClient, VenError, build_report

CLIENTS = {"ven-a": "secret-a"}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1", "localhost"))).configure_cert(context)
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
async def servicer(evidence: EvidenceLog, ca: trustme.CA) -> AsyncIterator[Servicer]:
    async with Servicer(evidence, clients=CLIENTS, ssl_context=server_context(ca)) as running:
        yield running


def ven_of(servicer: Servicer, client_ssl: ssl.SSLContext | bool, **kwargs: object) -> VenClient:
    return VenClient(servicer.base_url, "ven-a", "secret-a", ssl=client_ssl, **kwargs)  # type: ignore[arg-type]


# -- comms loss ---------------------------------------------------------------------------------
async def test_outage_503(servicer: Servicer, client_ssl: ssl.SSLContext) -> None:
    async with ven_of(servicer, client_ssl) as ven:
        await ven.fetch_token()
        servicer.outage = "503"
        with pytest.raises(VenError) as caught:
            await ven.events()
        assert caught.value.status == 503
        assert caught.value.headers["Retry-After"] == "60"
        schemas.validate("problem", caught.value.problem)
        servicer.outage = "none"
        assert await ven.events() == []


async def test_outage_reset(
    servicer: Servicer, client_ssl: ssl.SSLContext, evidence: EvidenceLog
) -> None:
    async with ven_of(servicer, client_ssl, evidence=evidence) as ven:
        await ven.fetch_token()
        servicer.outage = "reset"
        started = real_monotonic()
        with pytest.raises(VenError) as caught:
            await ven.events()
        assert caught.value.status is None
        assert real_monotonic() - started < 2
        assert servicer.requests[-1].status is None
        assert any("connection reset" in r.summary for r in evidence)
        servicer.outage = "none"
        assert await ven.events() == []


async def test_outage_silent_is_bounded_by_the_client_and_ends(
    servicer: Servicer, client_ssl: ssl.SSLContext
) -> None:
    async with ven_of(servicer, client_ssl, timeout_s=0.2) as ven:
        await ven.fetch_token()
        servicer.outage = "silent"
        with pytest.raises(VenError, match=r"no answer within 0\.2 s") as caught:
            await ven.events()
        assert caught.value.status is None
        servicer.outage = "none"
        assert await ven.events() == []


async def test_a_held_request_is_answered_when_the_outage_ends(
    servicer: Servicer, client_ssl: ssl.SSLContext
) -> None:
    async with ven_of(servicer, client_ssl, timeout_s=5) as ven:
        await ven.fetch_token()
        servicer.outage = "silent"
        poll = asyncio.ensure_future(ven.events())
        await asyncio.sleep(0.1)
        assert not poll.done()
        servicer.outage = "none"
        assert await asyncio.wait_for(poll, 2) == []


async def test_closing_drops_held_requests(
    evidence: EvidenceLog, ca: trustme.CA, client_ssl: ssl.SSLContext
) -> None:
    servicer = Servicer(evidence, clients=CLIENTS, ssl_context=server_context(ca))
    await servicer.start()
    async with ven_of(servicer, client_ssl, timeout_s=5) as ven:
        await ven.fetch_token()
        servicer.outage = "silent"
        poll = asyncio.ensure_future(ven.events())
        await asyncio.sleep(0.1)
        started = real_monotonic()
        await servicer.close()
        with pytest.raises(VenError):
            await poll
        assert real_monotonic() - started < 2
    assert servicer.requests[-1].status is None


async def test_silent_hold_has_a_limit(servicer: Servicer, client_ssl: ssl.SSLContext) -> None:
    servicer.hold_limit_s = 0.1
    async with ven_of(servicer, client_ssl, timeout_s=5) as ven:
        await ven.fetch_token()
        servicer.outage = "silent"
        with pytest.raises(VenError) as caught:
            await ven.events()
        assert caught.value.status is None


def test_unknown_outage_mode_is_refused(evidence: EvidenceLog) -> None:
    servicer = Servicer(evidence, clients=CLIENTS, ssl_context=None)
    with pytest.raises(ValueError, match="outage must be one of"):
        servicer.outage = "flaky"  # type: ignore[assignment]


# -- hostile servers --------------------------------------------------------------------------
async def test_redirects_are_refused_unless_followed(
    servicer: Servicer, client_ssl: ssl.SSLContext
) -> None:
    seen: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/{tail:.*}", elsewhere)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    target = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with ven_of(servicer, client_ssl) as ven:
            await ven.fetch_token()
            servicer.redirect_to = target
            with pytest.raises(VenError) as caught:
                await ven.events("program-1")
            assert caught.value.status == 307
            assert caught.value.location == f"{target}/events?programID=program-1"
        assert seen == []
        async with ven_of(servicer, client_ssl, follow_redirects=True) as follower:
            servicer.redirect_to = None
            await follower.fetch_token()
            servicer.redirect_to = target
            assert await follower.events() == []
        assert seen == ["/events"]  # this VEN went where it was sent
        assert servicer.requests_by("ven-a", path_prefix="/events")[-1].status == 307
    finally:
        await runner.cleanup()


async def test_tls_with_the_run_ca(
    servicer: Servicer, client_ssl: ssl.SSLContext, evidence: EvidenceLog
) -> None:
    assert servicer.base_url.startswith("https://127.0.0.1:")
    async with ven_of(servicer, client_ssl, evidence=evidence) as ven:
        assert await ven.programs() == []
    # the VEN's side is in the evidence too, credentials redacted
    sent = [r for r in evidence if r.kind == "tx" and r.summary.startswith("POST")]
    assert sent and "secret-a" not in str(sent[0].values)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
@pytest.mark.parametrize("case", ["untrusted CA", "wrong host", "TLS 1.1 at most"])
async def test_the_ven_refuses_a_bad_server(
    evidence: EvidenceLog, ca: trustme.CA, client_ssl: ssl.SSLContext, case: str
) -> None:
    if case == "untrusted CA":
        context = server_context(trustme.CA())
    elif case == "wrong host":
        context = server_context(ca, "dr.example.test")
    else:
        context = server_context(ca)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    async with Servicer(evidence, clients=CLIENTS, ssl_context=context) as servicer:
        async with ven_of(servicer, client_ssl, timeout_s=2) as ven:
            with pytest.raises(VenError) as caught:
                await ven.fetch_token()
            assert caught.value.status is None
        assert servicer.requests_by(None) == []  # the VEN did not connect anyway


async def test_the_default_context_trusts_only_the_system_store(servicer: Servicer) -> None:
    async with VenClient(servicer.base_url, "ven-a", "secret-a") as ven:
        with pytest.raises(VenError, match=r"SSL|certificate"):
            await ven.fetch_token()
    assert servicer.requests == []


async def test_unverified_tls_can_be_chosen(servicer: Servicer) -> None:
    async with VenClient(servicer.base_url, "ven-a", "secret-a", ssl=False) as ven:
        assert await ven.events() == []
    assert servicer.requests_by("ven-a")  # here the VEN did connect: a finding for a test


async def test_basic_credentials_and_a_raw_malformed_document(
    servicer: Servicer, client_ssl: ssl.SSLContext
) -> None:
    async with ven_of(servicer, client_ssl) as ven:
        await ven.fetch_token(basic=True)
        with pytest.raises(VenError) as caught:
            await ven.request("POST", "/reports", raw='{"eventID": ', content_type="text/plain")
        assert caught.value.status == 400
    [finding] = servicer.findings
    assert finding.document == '{"eventID": '


async def test_a_refused_connection_is_a_ven_error(client_ssl: ssl.SSLContext) -> None:
    async with VenClient("https://127.0.0.1:9", "ven-a", "x", ssl=client_ssl, timeout_s=2) as ven:
        with pytest.raises(VenError) as caught:
            await ven.events()
    assert caught.value.status is None


# -- virtual time --------------------------------------------------------------------------------
def test_hours_of_polling_in_virtual_time(ca: trustme.CA, client_ssl: ssl.SSLContext) -> None:
    """A VEN polls every 30 s and reports every 5 min for 3 virtual hours, over TLS."""
    clock = VirtualClock()
    runner = LoopRunner(clock)
    evidence = EvidenceLog(clock.now)
    hours = 3
    servicer = Servicer(evidence, clients=CLIENTS, ssl_context=server_context(ca))
    started = real_monotonic()

    async def ven_loop(ven: VenClient, until: float) -> int:
        loop = asyncio.get_running_loop()
        polls = 0
        while loop.time() < until:
            events = await ven.events()
            polls += 1
            if polls % 10 == 0 and events:
                soc = 0.5 + polls / 10000
                report = build_report(
                    events[0]["id"], "VEN-A", "bat", {STORAGE_CHARGE_LEVEL: [soc]}
                )
                await ven.post_report(report)
            await asyncio.sleep(30)
        return polls

    async def scenario() -> tuple[int, float, float]:
        await servicer.start()
        program = await servicer.add_program("p")
        await servicer.publish_event(
            program["id"],
            start=datetime.now(UTC),
            duration_s=None,
            payload_type=DISPATCH_SETPOINT,
            values=[1.0],
        )
        loop = asyncio.get_running_loop()
        async with ven_of(servicer, client_ssl) as ven:
            begin = now_epoch()
            task = asyncio.ensure_future(ven_loop(ven, loop.time() + hours * 3600))
            mark = now_epoch() + 3600
            poll = await servicer.wait_for_poll("ven-a", mark, timeout_s=3600 + 60)
            report = await servicer.wait_for_report(lambda r: True, timeout_s=600)
            polls = await task
        await servicer.close()
        assert poll.time - mark < 30
        assert report.time >= mark
        return polls, begin, now_epoch()

    try:
        polls, begin, end = runner.run(scenario())
    finally:
        runner.close()
        evidence.close()
    assert polls == hours * 120
    assert end - begin >= hours * 3600
    assert len(servicer.reports()) == polls // 10
    times = [r.time for r in servicer.requests_by("ven-a", path_prefix="/events")]
    assert all(29.9 < b - a < 30.5 for a, b in itertools.pairwise(times))
    assert datetime.fromtimestamp(begin, UTC) == datetime(2027, 4, 1, tzinfo=UTC)  # virtual
    assert real_monotonic() - started < 10
    assert servicer.errors == [] and servicer.findings == []
