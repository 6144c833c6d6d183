"""The combined run's fork server (:mod:`drready.run.forkserver`): a forked child runs its
module's command line, with its own output, environment, process group and exit status, and what
it cost; a signal reaches it; a server that has gone ends every wait."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drready.run import forkserver
from drready.run.children import ForkedChild
from drready.run.forkserver import ForkServer
from drready.run.multirun import _Part, _run_parts

MODULE = "tests.run.fork_target"
ENV = {**os.environ, "FORK_TARGET": "given"}


@pytest.fixture
def server() -> ForkServer:
    reason = forkserver.unavailable()
    assert reason is None, reason
    warmed: list[str] = []
    started = ForkServer.start(lambda: warmed.append("imported once"))
    return started


async def _child(server: ForkServer, *argv: str) -> tuple[ForkedChild, str, str]:
    child = await ForkedChild.start(server, ["python", "-P", "-m", MODULE, *argv], ENV)
    out, err = await child.reader(child.stdout), await child.reader(child.stderr)
    assert out is not None and err is not None
    returned = await asyncio.wait_for(
        asyncio.gather(out.read(), err.read(), child.wait()), timeout=30
    )
    child.close()
    return child, returned[0].decode(), returned[1].decode()


async def _waiting_child(server: ForkServer) -> ForkedChild:
    """A child that has started and waits until a signal ends it."""
    child = await ForkedChild.start(server, ["python", "-P", "-m", MODULE, "wait"], ENV)
    out = await child.reader(child.stdout)
    assert out is not None
    assert await asyncio.wait_for(out.readline(), 30) == b"waiting\n"
    return child


def test_a_child_runs_its_command_line_with_its_own_output_and_status(
    server: ForkServer,
) -> None:
    async def scenario() -> None:
        server.attach()
        try:
            assert await server.ready(30)
            child, out, err = await _child(server, "echo", "hello")
            assert (out, err) == ("hello\n", "hello\n")
            assert child.returncode == 3
            assert child.usage is not None
            assert child.usage.cpu_s >= 0 and child.usage.peak_rss_mb > 1
            assert child.usage.wall_s > 0
            child, out, _ = await _child(server, "pgid")
            pgid, pid, env, stdin = out.split()
            # Its own process group, as a part started with process_group=0; its environment
            # as given; nothing on its stdin.
            assert pgid == pid == str(child.pid)
            assert env == "given" and stdin == "''"
        finally:
            server.close()

    asyncio.run(scenario())


def test_a_signal_reaches_the_child_and_its_end_is_told(server: ForkServer) -> None:
    async def scenario() -> None:
        server.attach()
        try:
            assert await server.ready(30)
            child = await _waiting_child(server)
            child.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(child.wait(), 30) == -signal.SIGTERM
            child.send_signal(signal.SIGTERM)  # ended: reaches nobody, and does not raise
            child.close()
        finally:
            server.close()

    asyncio.run(scenario())


def test_when_the_server_has_gone_the_child_is_still_waited_for(server: ForkServer) -> None:
    async def scenario() -> None:
        server.attach()
        assert await server.ready(30)
        child = await _waiting_child(server)
        os.kill(server.pid, signal.SIGKILL)
        waited = asyncio.ensure_future(child.wait())
        await asyncio.sleep(0)
        assert not waited.done()  # the child runs on without its server
        child.send_signal(signal.SIGKILL)
        # Its end is seen on its pidfd; its status died with the server.
        assert await asyncio.wait_for(waited, 30) is None
        child.close()
        server.close()
        with pytest.raises(OSError, match="has gone"):
            await server.spawn(MODULE, ["echo", "x"], ENV, 1, 2)

    asyncio.run(scenario())


def test_a_server_that_fails_to_warm_up_is_not_ready() -> None:
    def broken() -> None:
        raise RuntimeError("cannot import")

    server = ForkServer.start(broken)

    async def scenario() -> None:
        server.attach()
        try:
            assert not await server.ready(30)
            assert not server.is_ready
        finally:
            server.close()

    asyncio.run(scenario())


def test_a_server_slower_than_its_bound_is_given_up_on_once() -> None:
    gate = os.pipe()

    def stuck() -> None:
        os.read(gate[0], 1)  # until the test lets it go

    server = ForkServer.start(stuck)

    async def scenario() -> None:
        server.attach()
        try:
            assert not await server.ready(0.2)
            # Given up on: the next part does not wait another bound.
            started = asyncio.get_running_loop().time()
            assert not await server.ready(30)
            assert asyncio.get_running_loop().time() - started < 5
        finally:
            os.write(gate[1], b"x")
            server.close()

    asyncio.run(scenario())


def test_parts_waiting_for_a_warming_server_stop_when_the_run_is_interrupted() -> None:
    """The shortest part starts as a plain process while the server warms up; the others wait
    for it, but an interrupt ends their wait at once (they did not start)."""
    gate = os.pipe()
    server = ForkServer.start(lambda: os.read(gate[0], 1) and None)  # warms up until let go
    quick = [sys.executable, "-c", "print('plain')"]
    parts = [_Part(f"part-{k}", "battery", f"run-{k}", quick) for k in range(3)]

    async def scenario() -> bool:
        server.attach()
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, os.kill, os.getpid(), signal.SIGINT)
        started = loop.time()
        interrupted = await _run_parts(
            parts, 2, dict(os.environ), lambda: None, [0, 1, 2], server, frozenset({0})
        )
        assert loop.time() - started < 10  # not the warm-up's 60 s bound
        return interrupted

    try:
        assert asyncio.run(scenario())
    finally:
        os.write(gate[1], b"x")
        server.close()
    assert parts[0].exit_status == 0 and parts[0].problem is None
    for part in parts[1:]:
        assert part.problem == "did not start: the run was interrupted", part.problem


#: ``drready run ARGS`` on a machine of one CPU: one part at a time, so every part is forked.
ONE_CPU = (
    "import os, sys\n"
    "os.cpu_count = lambda: 1\n"
    "from drready.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.mark.slow
def test_a_forked_part_says_no_more_than_a_plain_one(tmp_path: Path) -> None:
    """A part forked from the warm-up finds drready, the suites and what a run imports late
    already imported: neither runpy (the command's ``__main__`` module) nor pytest (the suites'
    assertion rewriting, done by the warm-up's collection) warns of it in the part's output."""
    run_dir = tmp_path / "run"
    command = [sys.executable, "-c", ONE_CPU, "run", "--binding", "echonet"]
    done = subprocess.run(
        [*command, "--report-dir", str(run_dir)], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Each part's table and the combined one.
    assert done.stdout.count("DRready requirements") == 4, done.stdout[-3000:]
    said = done.stdout + done.stderr
    assert "Warning" not in said and "warnings summary" not in said, said
