"""The impaired HTTP links, on virtual time over loopback sockets: the Web API client (the harness
calls a cloud) and the OpenADR 3 servicer (a VEN calls the harness). A lost request never
reaches the other side, a lost answer comes after it acted, a read may be delivered twice, a
control request never; the Web API client sends again what got no answer when that is safe."""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web

from drready.clock import LoopRunner, VirtualClock
from drready.evidence import EvidenceLog, Record
from drready.evidence.redact import redact_text
from drready.impairment import EVIDENCE_KIND, Impairment, attempts_under, link_impairment
from drready.openadr.server import Servicer
from drready.webapi.client import WebApiClient

T = TypeVar("T")
TIMEOUT_S = 5.0


def actions(evidence: EvidenceLog) -> list[str]:
    return [
        f"{r.values['action']} {r.values['direction']}"
        for r in impair_records(evidence)
        if r.values["action"] != "settings"
    ]


def impair_records(evidence: EvidenceLog) -> list[Record]:
    return [r for r in evidence if r.kind == EVIDENCE_KIND]


# -- the Web API client ---------------------------------------------------------------------------


@dataclass
class Cloud:
    """A stand-in cloud: answers every request, keeps what it was asked."""

    requests: list[tuple[str, str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            (request.method, request.path, request.headers.get("X-Request-Id", ""))
        )
        if request.path == "/oauth/token":
            return web.json_response(
                {"access_token": "t" * 32, "token_type": "Bearer", "expires_in": 3600}
            )
        return web.json_response({"ok": True})


@dataclass
class WebBench:
    runner: LoopRunner
    evidence: EvidenceLog
    client: WebApiClient
    cloud: Cloud
    site: web.AppRunner

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    @property
    def elapsed_s(self) -> float:
        return self.runner.clock.monotonic()


def _open_web(impairment: Impairment | None, attempts: int = 1) -> WebBench:
    runner = LoopRunner(VirtualClock())
    evidence = EvidenceLog(runner.clock.now)
    cloud = Cloud()

    async def serve() -> tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", cloud.handle)
        site = web.AppRunner(app, access_log=None)
        await site.setup()
        tcp = web.TCPSite(site, "127.0.0.1", 0)
        await tcp.start()
        return site, site.addresses[0][1]

    site, port = runner.run(serve())
    client = WebApiClient(
        f"http://127.0.0.1:{port}",
        "drready",
        "secret",
        evidence=evidence,
        timeout_s=TIMEOUT_S,
        attempts=attempts_under(impairment, attempts),
        impairment=link_impairment(impairment, "webapi"),
    )
    return WebBench(runner, evidence, client, cloud, site)


def _close_web(bench: WebBench) -> None:
    bench.run(bench.client.close())
    bench.run(bench.site.cleanup())
    bench.runner.close()


@pytest.fixture
def web_benches() -> Iterator[list[WebBench]]:
    benches: list[WebBench] = []
    yield benches
    if benches:
        _close_web(benches[-1])


def web_bench(
    benches: list[WebBench], impairment: Impairment | None, attempts: int = 1
) -> WebBench:
    if benches:
        _close_web(benches[-1])
    bench = _open_web(impairment, attempts)
    benches.append(bench)
    return bench


def _seed(rate: float, wanted: list[tuple[str, bool]], name: str = "webapi") -> int:
    """A seed whose first loss draws, per direction, are ``wanted`` (in that order)."""
    for seed in range(2000):
        dice = Impairment(loss=rate, seed=seed).link(name)
        if all(dice.lost(direction) == lost for direction, lost in wanted):
            return seed
    raise AssertionError("no such seed")


def test_a_lost_request_never_reaches_the_cloud_and_costs_the_timeout(
    web_benches: list[WebBench],
) -> None:
    bench = web_bench(web_benches, Impairment(loss=1.0, seed=1, adapt_retries=False))
    answer = bench.run(bench.client.raw("GET", "/x", token=False))
    assert answer.status is None and "the request was lost" in answer.error
    assert bench.cloud.requests == []
    assert bench.elapsed_s == pytest.approx(TIMEOUT_S, abs=0.01)
    assert actions(bench.evidence) == ["drop tx"]
    sent = [r for r in bench.evidence if r.kind == "tx" and r.channel == "http"]
    assert len(sent) == 1  # recorded as sent: the harness sent it, the link lost it


def test_a_lost_answer_comes_after_the_cloud_acted(web_benches: list[WebBench]) -> None:
    seed = _seed(0.5, [("tx", False), ("rx", True)])
    bench = web_bench(web_benches, Impairment(loss=0.5, seed=seed, adapt_retries=False))
    answer = bench.run(bench.client.raw("PUT", "/x", body={"a": 1}, token=False))
    assert answer.status is None and "the answer was lost" in answer.error
    assert [method for method, _, _ in bench.cloud.requests] == ["PUT"]
    assert actions(bench.evidence)[:1] == ["drop rx"]


def test_no_answer_is_sent_again_with_a_fresh_replay_guard(web_benches: list[WebBench]) -> None:
    seed = _seed(0.5, [("tx", False), ("rx", True), ("tx", False), ("rx", False)])
    bench = web_bench(web_benches, Impairment(loss=0.5, seed=seed, adapt_retries=False), 3)
    answer = bench.run(bench.client.raw("PUT", "/x", body={"a": 1}, token=False))
    assert answer.status == 200
    ids = [request_id for _, _, request_id in bench.cloud.requests]
    assert len(ids) == 2 and ids[0] != ids[1] and all(ids)


def test_a_fixed_replay_guard_is_never_sent_again(web_benches: list[WebBench]) -> None:
    seed = _seed(0.5, [("tx", False), ("rx", True)])
    bench = web_bench(web_benches, Impairment(loss=0.5, seed=seed, adapt_retries=False), 3)
    answer = bench.run(
        bench.client.raw("PUT", "/x", body={"a": 1}, token=False, request_id="fixed")
    )
    assert answer.status is None
    assert [request_id for _, _, request_id in bench.cloud.requests] == ["fixed"]


def test_lossy_link_with_retries_still_answers_every_read(web_benches: list[WebBench]) -> None:
    bench = web_bench(web_benches, Impairment(loss=0.2, seed=4))
    assert bench.client.attempts == Impairment(loss=0.2).attempts(1) > 1
    for _ in range(20):
        assert bench.run(bench.client.raw("GET", "/x", token=False)).status == 200
    done = actions(bench.evidence)
    assert "drop tx" in done and "drop rx" in done
    assert len(bench.cloud.requests) == 20 + done.count("drop rx")


def test_the_token_request_is_sent_again(web_benches: list[WebBench]) -> None:
    seed = _seed(0.5, [("tx", True), ("tx", False), ("rx", False)])
    bench = web_bench(web_benches, Impairment(loss=0.5, seed=seed, adapt_retries=False), 2)
    assert bench.run(bench.client.access_token()) == "t" * 32
    assert actions(bench.evidence) == ["drop tx"]


def test_reads_are_duplicated_and_control_requests_never(web_benches: list[WebBench]) -> None:
    bench = web_bench(web_benches, Impairment(duplicate=1.0, seed=1))
    assert bench.run(bench.client.raw("GET", "/x", token=False)).status == 200
    assert bench.run(bench.client.raw("PUT", "/y", body={}, token=False)).status == 200
    assert [(m, p) for m, p, _ in bench.cloud.requests] == [
        ("GET", "/x"),
        ("GET", "/x"),
        ("PUT", "/y"),
    ]
    assert actions(bench.evidence) == ["duplicate tx"]


def test_delays_hold_each_way_and_too_late_is_no_answer(web_benches: list[WebBench]) -> None:
    bench = web_bench(web_benches, Impairment(delay_ms=1000, seed=1))
    started = bench.elapsed_s
    assert bench.run(bench.client.raw("GET", "/x", token=False)).status == 200
    assert bench.elapsed_s - started == pytest.approx(2.0, abs=0.05)
    late = web_bench(web_benches, Impairment(delay_ms=3000, seed=1))
    answer = late.run(late.client.raw("GET", "/x", token=False))
    assert answer.status is None and "too late" in answer.error
    assert actions(late.evidence) == ["delay rx"]


def test_the_summaries_never_read_as_credentials(web_benches: list[WebBench]) -> None:
    bench = web_bench(web_benches, Impairment(loss=1.0, seed=1, adapt_retries=False))
    bench.run(bench.client.token_request())
    for record in bench.evidence:
        assert redact_text(record.summary) == record.summary, record.summary


# -- the OpenADR 3 servicer -------------------------------------------------------------------


@dataclass
class ServicerBench:
    runner: LoopRunner
    evidence: EvidenceLog
    servicer: Servicer

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    async def get(self, path: str, count: int = 1) -> list[int | str]:
        """GET ``path`` ``count`` times (a new connection each): the status, or the error."""
        got: list[int | str] = []
        for _ in range(count):
            try:
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(self.servicer.base_url + path) as response,
                ):
                    await response.read()
                    got.append(response.status)
            except aiohttp.ClientError as exc:
                got.append(type(exc).__name__)
        return got


@pytest.fixture
def servicer_bench(request: pytest.FixtureRequest) -> Iterator[ServicerBench]:
    impairment: Impairment = request.param
    runner = LoopRunner(VirtualClock())
    evidence = EvidenceLog(runner.clock.now)
    servicer = Servicer(
        evidence,
        clients={"ven": "secret"},
        ssl_context=None,
        impairment=link_impairment(impairment, "openadr3"),
    )
    runner.run(servicer.start())
    yield ServicerBench(runner, evidence, servicer)
    runner.run(servicer.close())
    runner.close()


@pytest.mark.parametrize("servicer_bench", [Impairment(loss=1.0, seed=1)], indirect=True)
def test_a_lost_request_is_never_handled_and_the_connection_resets(
    servicer_bench: ServicerBench,
) -> None:
    got = servicer_bench.run(servicer_bench.get("/programs"))
    assert isinstance(got[0], str)  # no answer: a connection error
    assert servicer_bench.servicer.requests == []
    # aiohttp sends an idempotent request once more on a reset connection: lost again.
    assert set(actions(servicer_bench.evidence)) == {"drop rx"}


@pytest.mark.parametrize(
    "servicer_bench",
    [
        Impairment(
            loss=0.5,
            seed=_seed(0.5, [("rx", False), ("tx", True), ("rx", True)], "openadr3"),
        )
    ],
    indirect=True,
)
def test_a_lost_answer_is_handled_and_the_client_gets_no_answer(
    servicer_bench: ServicerBench,
) -> None:
    got = servicer_bench.run(servicer_bench.get("/programs"))
    assert isinstance(got[0], str)
    (handled,) = servicer_bench.servicer.requests
    assert handled.path == "/programs" and handled.status == 401
    assert actions(servicer_bench.evidence) == ["drop tx", "drop rx"]


@pytest.mark.parametrize("servicer_bench", [Impairment(duplicate=1.0, seed=1)], indirect=True)
def test_a_read_is_handled_twice_and_answered_once(servicer_bench: ServicerBench) -> None:
    assert servicer_bench.run(servicer_bench.get("/programs")) == [401]
    assert [r.path for r in servicer_bench.servicer.requests] == ["/programs", "/programs"]
    assert actions(servicer_bench.evidence) == ["duplicate rx"]


@pytest.mark.parametrize("servicer_bench", [Impairment(loss=0.3, seed=6)], indirect=True)
def test_a_seeded_lossy_servicer_loses_some_and_records_each(
    servicer_bench: ServicerBench,
) -> None:
    got = servicer_bench.run(servicer_bench.get("/programs", 30))
    done = actions(servicer_bench.evidence)
    errors = [g for g in got if isinstance(g, str)]
    assert 0 < len(errors) <= len(done)
    assert set(done) == {"drop rx", "drop tx"}
    # Every request handled got its answer through, but those whose answer the link lost.
    handled = len(servicer_bench.servicer.requests)
    assert handled - done.count("drop tx") == 30 - len(errors)


@pytest.mark.parametrize("servicer_bench", [Impairment(delay_ms=500, seed=1)], indirect=True)
def test_the_servicer_delays_each_way(servicer_bench: ServicerBench) -> None:
    started = servicer_bench.runner.clock.monotonic()
    assert servicer_bench.run(servicer_bench.get("/programs")) == [401]
    assert servicer_bench.runner.clock.monotonic() - started == pytest.approx(1.0, abs=0.05)
