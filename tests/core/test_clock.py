"""Tests for the run clock: virtual time on the event loop and the wall clock, and LoopRunner."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from drready.clock import (
    DEFAULT_VIRTUAL_START,
    ClockError,
    LoopRunner,
    RealClock,
    VirtualClock,
    real_monotonic,
    real_now,
)
from drready.echonet.codec import ECHONET_LITE_PORT, EOJ, NODE_PROFILE, Frame, decode
from drready.echonet.gateway import Gateway
from drready.echonet.node import Node, ObjectBase
from drready.echonet.transport import Address, MemoryNetwork
from drready.evidence import EvidenceLog

BATTERY = EOJ(0x02, 0x7D, 0x01)
# Slack for comparing two readings of the real wall clock taken a few statements apart.
REAL_CLOCK_SLACK_S = 5.0


@pytest.fixture
def runner() -> Iterator[LoopRunner]:
    runner = LoopRunner(VirtualClock())
    yield runner
    runner.close()


def _virtual(runner: LoopRunner) -> VirtualClock:
    assert isinstance(runner.clock, VirtualClock)
    return runner.clock


# --------------------------------------------------------------------------- virtual time


def test_long_sleep_is_instant_and_exact(runner: LoopRunner) -> None:
    wall_start = real_monotonic()
    runner.run(asyncio.sleep(3600))
    assert _virtual(runner).elapsed_s == 3600
    assert runner.loop.time() == 3600
    # An hour of device time in (much) less than a second of real time.
    assert real_monotonic() - wall_start < 1.0


def test_runner_sleep_moves_the_clock(runner: LoopRunner) -> None:
    runner.sleep(90)
    runner.sleep(30)
    assert _virtual(runner).elapsed_s == 120


def test_clock_stands_still_between_runs(runner: LoopRunner) -> None:
    runner.run(asyncio.sleep(10))
    # Nothing runs the loop here; the clock must not move on its own.
    assert _virtual(runner).elapsed_s == 10
    runner.run(asyncio.sleep(0))
    assert _virtual(runner).elapsed_s == 10


def test_wall_clock_follows_virtual_time_and_returns_after_close() -> None:
    start = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    clock = VirtualClock(start)
    runner = LoopRunner(clock)
    try:
        assert time.time() == start.timestamp()
        assert datetime.now(UTC) == start
        # Naive now() is the frozen UTC instant (freezegun's default tz offset is 0).
        assert datetime.now() == start.replace(tzinfo=None)
        runner.run(asyncio.sleep(3600))
        assert time.time() == start.timestamp() + 3600
        assert datetime.now(UTC) == start + timedelta(hours=1)
        assert clock.now() == start.timestamp() + 3600
    finally:
        runner.close()
    # freezegun stopped: both readers are back on the real clock.
    assert abs(time.time() - real_now()) < REAL_CLOCK_SLACK_S
    assert abs(datetime.now(UTC).timestamp() - real_now()) < REAL_CLOCK_SLACK_S


def test_default_start_is_fixed(runner: LoopRunner) -> None:
    assert _virtual(runner).now() == DEFAULT_VIRTUAL_START.timestamp()
    assert datetime.now(UTC) == DEFAULT_VIRTUAL_START


def test_real_now_stays_real_under_a_virtual_clock() -> None:
    before = time.time()
    runner = LoopRunner(VirtualClock())
    try:
        runner.sleep(100 * 86400)
        assert time.time() > before + 99 * 86400  # the frozen clock moved 100 days ahead
        assert before <= real_now() < before + REAL_CLOCK_SLACK_S
    finally:
        runner.close()


def test_unfrozen_virtual_clock_leaves_the_wall_clock_alone() -> None:
    clock = VirtualClock(freeze_wall_clock=False)
    runner = LoopRunner(clock)
    try:
        runner.sleep(86400)
        assert clock.elapsed_s == 86400
        assert abs(time.time() - real_now()) < REAL_CLOCK_SLACK_S
    finally:
        runner.close()


def test_timers_fire_in_order_at_their_virtual_times(runner: LoopRunner) -> None:
    delays = [5.0, 1.0, 3600.0, 0.25, 3.0, 1.5]
    fired: list[tuple[int, float]] = []

    async def schedule_all() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        remaining = len(delays)

        def fire(index: int) -> None:
            nonlocal remaining
            fired.append((index, loop.time()))
            remaining -= 1
            if remaining == 0:
                done.set_result(None)

        for index, delay in enumerate(delays):
            loop.call_later(delay, fire, index)
        await done

    runner.run(schedule_all())
    # Distinct delays: asyncio's timer heap does not promise an order among equal ones.
    expected = sorted(enumerate(delays), key=lambda item: item[1])
    assert fired == expected
    assert _virtual(runner).elapsed_s == max(delays)


def test_call_at_and_sleep_interleave(runner: LoopRunner) -> None:
    seen: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        seen.append((name, asyncio.get_running_loop().time()))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_at(7.5, lambda: seen.append(("call_at", loop.time())))
        await asyncio.gather(sleeper("long", 20), sleeper("short", 2))

    runner.run(main())
    assert seen == [("short", 2.0), ("call_at", 7.5), ("long", 20.0)]


@pytest.mark.parametrize("bad", [-1.0, -1e-9])
def test_virtual_time_never_goes_back(bad: float) -> None:
    clock = VirtualClock(freeze_wall_clock=False)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(bad)
    assert clock.elapsed_s == 0


def test_virtual_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2027, 4, 1), freeze_wall_clock=False)


def _finishes_within(runner: LoopRunner, seconds: float, limit_s: float) -> bool:
    """Sleep ``seconds`` of virtual time on ``runner``; False if that takes over ``limit_s`` real s.

    The loop runs in a worker thread so that a loop spinning for ever is detected and stopped
    instead of hanging the test session.
    """
    outcome: list[bool] = []

    def work() -> None:
        try:
            runner.sleep(seconds)
            outcome.append(True)
        except RuntimeError:  # "Event loop stopped before Future completed": the watchdog
            outcome.append(False)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(limit_s)
    if worker.is_alive():
        runner.loop.call_soon_threadsafe(runner.loop.stop)
        worker.join(limit_s)
        assert not worker.is_alive(), "the virtual loop did not even stop"
    return outcome == [True]


@pytest.mark.parametrize("start_s", [0.0, 86400.0, 2.0**23])
def test_timer_due_now_fires_after_long_virtual_runs(start_s: float) -> None:
    clock = VirtualClock(freeze_wall_clock=False)
    runner = LoopRunner(clock)
    clock.advance(start_s)
    try:
        assert _finishes_within(runner, 1.0, limit_s=0.5)
        assert clock.elapsed_s == start_s + 1.0
    finally:
        runner.close()


@pytest.mark.parametrize("start_s", [2.0**24, 365 * 86400.0])
def test_timer_due_now_fires_after_194_days(start_s: float) -> None:
    clock = VirtualClock(freeze_wall_clock=False)
    runner = LoopRunner(clock)
    clock.advance(start_s)
    try:
        assert _finishes_within(runner, 1.0, limit_s=0.5), "sleep(1) never completed"
        assert clock.elapsed_s == start_s + 1.0
    finally:
        runner.close()


# --------------------------------------------------------------------------- in-flight replies


def test_reply_in_flight_is_not_overtaken_by_a_long_timer(runner: LoopRunner) -> None:
    network = MemoryNetwork()
    battery = ObjectBase(BATTERY)
    battery.serve(0x80, lambda: b"\x30")
    node = Node(ObjectBase(NODE_PROFILE), [battery])

    def node_receive(data: bytes, source: Address) -> None:
        request = decode(data)
        assert isinstance(request, Frame)
        for reply in node.handle(request):
            node_endpoint.send(reply.encode(), source)

    node_endpoint = network.endpoint(node_receive, "192.0.2.10", ECHONET_LITE_PORT)
    evidence = EvidenceLog(runner.clock.now)
    gateway = Gateway(evidence, timeout_s=2.0, retries=0)
    gateway.attach(network.endpoint(gateway.datagram_received, "192.0.2.1", ECHONET_LITE_PORT))

    async def scenario() -> tuple[dict[int, bytes], float, float, bool]:
        loop = asyncio.get_running_loop()
        background = asyncio.create_task(asyncio.sleep(1000))
        start = loop.time()
        values = await gateway.get(("192.0.2.10", ECHONET_LITE_PORT), BATTERY, [0x80])
        replied_at = loop.time()
        pending = not background.done()
        background.cancel()
        return values, start, replied_at, pending

    values, start, replied_at, background_pending = runner.run(scenario())
    assert values == {0x80: b"\x30"}
    assert replied_at == start
    assert background_pending
    assert _virtual(runner).elapsed_s == 0
    # Request and reply carry the same virtual timestamp in the evidence.
    assert [r.kind for r in evidence] == ["tx", "rx"]
    assert len({r.time for r in evidence}) == 1


# --------------------------------------------------------------------------- deadlock detection


def test_wait_with_nothing_scheduled_raises_clock_error() -> None:
    clock = VirtualClock()
    runner = LoopRunner(clock)

    async def wait_forever() -> None:
        await asyncio.get_running_loop().create_future()

    try:
        with pytest.raises(ClockError, match="nothing to do"):
            runner.run(wait_forever())
        # The loop survives the error: it still runs work, and time still moves.
        runner.sleep(5)
        assert clock.elapsed_s == 5
    finally:
        runner.close()
    assert runner.loop.is_closed()
    assert abs(time.time() - real_now()) < REAL_CLOCK_SLACK_S


# --------------------------------------------------------------------------- LoopRunner


def test_close_is_idempotent_and_cancels_pending_tasks() -> None:
    runner = LoopRunner(VirtualClock())
    cancelled: list[str] = []

    async def background(name: str) -> None:
        try:
            await asyncio.sleep(10**6)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def start() -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(background(name)) for name in ("a", "b")]
        await asyncio.sleep(0)  # let both tasks reach their sleep
        return tasks

    tasks = runner.run(start())
    assert not any(task.done() for task in tasks)
    runner.close()
    assert sorted(cancelled) == ["a", "b"]
    assert all(task.cancelled() for task in tasks)
    assert runner.loop.is_closed()
    runner.close()  # a second close is a no-op
    assert sorted(cancelled) == ["a", "b"]


def test_run_after_close_refuses_and_closes_the_coroutine() -> None:
    runner = LoopRunner(VirtualClock())
    runner.close()

    async def never_started() -> None:
        raise AssertionError("must not run")

    coro = never_started()
    with pytest.raises(RuntimeError, match="closed"):
        runner.run(coro)
    # Closed, not left dangling: no "coroutine was never awaited" warning later.
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


# --------------------------------------------------------------------------- RealClock


def test_real_clock_reads_real_time() -> None:
    clock = RealClock()
    assert clock.virtual is False
    assert abs(clock.now() - real_now()) < REAL_CLOCK_SLACK_S
    first = clock.monotonic()
    assert clock.monotonic() >= first


def test_real_clock_runner_runs_and_closes() -> None:
    runner = LoopRunner(RealClock())

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    try:
        assert runner.run(answer()) == 42
    finally:
        runner.close()
    runner.close()
    assert runner.loop.is_closed()


def test_close_survives_a_task_stuck_after_an_interrupt() -> None:
    # After Ctrl-C a task can be left waiting on something nothing will ever set; on a virtual
    # loop that makes the loop idle. Closing must still succeed.
    runner = LoopRunner(VirtualClock(freeze_wall_clock=False))

    async def stubborn() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.get_running_loop().create_future()  # never resolved

    async def start() -> None:
        asyncio.get_running_loop().create_task(stubborn())
        await asyncio.sleep(0)

    runner.run(start())
    runner.close()
    with pytest.raises(RuntimeError, match="closed"):
        runner.run(asyncio.sleep(0))
