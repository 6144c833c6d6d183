"""A run of several parts: one child ``drready run`` per part (a device class, or a unit: a profile
of ``--profile A --profile B``, or one of ``--units N``), run in parallel, their output relayed in
part order, and one combined report.

Interrupts: the first SIGINT, SIGTERM or SIGHUP is forwarded once to every child (each finishes
the test in progress and its report); a second one kills them. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from drready.run.children import ForkedChild, PlainChild
from drready.run.forkserver import ForkServer, unavailable
from drready.run.ledger import PartResult, PartUsage

if TYPE_CHECKING:
    from drready.run.options import RunOptions

#: A class's run in a combined run that has not ended after this long is stopped (a simulated
#: suite takes seconds).
PART_TIMEOUT_S = 600.0
#: After an interrupt, how long a class's run may take to finish its report before it is killed.
INTERRUPT_GRACE_S = 15.0
#: How long to wait for a killed child, and for the rest of a child's output once it has ended.
KILL_WAIT_S = 5.0
#: What stops a combined run (each is forwarded to the children as SIGINT).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


#: At most this many parts' runs at once when a part tests an external device (each mostly waits
#: on its device's real time); simulated parts run at most one per CPU (they compute).
MAX_EXTERNAL_JOBS = 64


@dataclass(frozen=True)
class PartSpec:
    """One part of a combined run: its stable name (its directory in the run directory) and its
    checked options (its own run ID and report directory)."""

    name: str
    options: RunOptions
    device_class: str
    #: Whether it tests a built-in simulator (or an external device, which it mostly waits on).
    simulated: bool = True
    #: The unit (device) it tests: the parts of one unit are bindings of one device design and
    #: their verdicts fold together in the combined report ("": the part is a unit of its own).
    unit: str = ""
    #: How long it is expected to take, relative to the others: the longest start first, so
    #: that the parts overlap well on few cores (its place in the output stays its own).
    weight: float = 0.0


@dataclass(eq=False)
class _Part:
    """One part's child run (``drready run --simulate CLASS`` or ``--profile FILE``)."""

    name: str
    device_class: str
    run_id: str
    command: list[str]
    unit: str = ""
    pending: list[str] = field(default_factory=list)  # its output, waiting for its turn
    errors: list[str] = field(default_factory=list)  # its stderr, shown when it has ended
    started: bool = False
    finished: bool = False
    exit_status: int | None = None
    problem: str | None = None
    usage: PartUsage | None = None

    def result(self) -> PartResult:
        problem = self.problem
        if problem is None and not self.finished:
            problem = "is still running" if self.started else "has not started yet"
        return PartResult(
            self.device_class,
            self.run_id,
            self.exit_status,
            problem,
            self.name,
            self.unit,
            self.usage,
        )


class _Relay:
    """The children's output, in class order, never interleaved: the first class that has not
    ended speaks live; the others' output waits until every class before them has ended."""

    def __init__(self, parts: Sequence[_Part]) -> None:
        self._parts = parts
        self._head = 0
        self._flush(parts[0])

    def _flush(self, part: _Part) -> None:
        _write(sys.stdout, "".join(part.pending))
        part.pending.clear()

    def out(self, part: _Part, text: str) -> None:
        if self._head < len(self._parts) and part is self._parts[self._head]:
            _write(sys.stdout, text)
        else:
            part.pending.append(text)

    def ended(self, part: _Part) -> None:
        part.finished = True
        while self._head < len(self._parts) and self._parts[self._head].finished:
            done = self._parts[self._head]
            self._flush(done)
            _write(sys.stderr, "".join(done.errors))
            done.errors.clear()
            self._head += 1
            if self._head < len(self._parts):
                self._flush(self._parts[self._head])


def _write(stream: TextIO, text: str) -> None:
    if text:
        stream.write(text)
        stream.flush()


async def _pump(stream: asyncio.StreamReader | None, sink: Callable[[str], None]) -> None:
    if stream is None:
        return
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := await stream.read(65536):
        sink(decoder.decode(chunk))
    sink(decoder.decode(b"", final=True))


def _exit_status(returncode: int | None) -> int | None:
    """A child killed by signal N exits, as a shell reports it, with 128 + N."""
    if returncode is not None and returncode < 0:
        return 128 - returncode
    return returncode


async def _run_parts(
    parts: Sequence[_Part],
    jobs: int,
    env: dict[str, str],
    on_end: Callable[[], None],
    start_order: Sequence[int] | None = None,
    server: ForkServer | None = None,
    early: frozenset[int] = frozenset(),
) -> bool:
    """Run the parts, ``jobs`` at a time (starting them in ``start_order``, indices into
    ``parts``; default their order), until each has ended; True if interrupted.

    The first SIGINT, SIGTERM or SIGHUP interrupts every running child (with SIGINT: pytest then
    finishes its report as incomplete) and starts no more; a second one kills them. Every wait is
    bounded.

    With a fork ``server``, one slot is its warm-up's until it is ready. The ``early`` parts
    (indices) start meanwhile, as plain processes; the others wait for it (a plain process too
    if it never becomes ready).
    """
    loop = asyncio.get_running_loop()
    relay = _Relay(parts)
    stop = asyncio.Event()
    running: set[PlainChild | ForkedChild] = set()
    signals = 0

    def interrupt() -> None:
        nonlocal signals
        signals += 1
        stop.set()
        for process in running:
            process.send_signal(signal.SIGINT if signals == 1 else signal.SIGKILL)

    async def wait(part: _Part, process: PlainChild | ForkedChild) -> None:
        ended = asyncio.ensure_future(process.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {ended, stopping}, timeout=PART_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
            if not ended.done():
                if not stopping.done():
                    part.problem = f"did not end within {PART_TIMEOUT_S:g} s and was stopped"
                    process.send_signal(signal.SIGINT)
                await asyncio.wait({ended}, timeout=INTERRUPT_GRACE_S)
            if not ended.done():
                part.problem = f"was killed: still running {INTERRUPT_GRACE_S:g} s after SIGINT"
                process.send_signal(signal.SIGKILL)
                await asyncio.wait({ended}, timeout=KILL_WAIT_S)
        finally:
            stopping.cancel()
            if not ended.done():
                ended.cancel()

    async def run(index: int, slots: asyncio.Semaphore) -> None:
        part = parts[index]
        async with slots:
            if server is not None and index not in early and not server.is_ready:
                await ready_or_stopped()
            if stop.is_set():
                part.problem = "did not start: the run was interrupted"
                part.pending.append("not run: the run was interrupted before it started\n")
            else:
                await run_child(part)
        relay.ended(part)
        on_end()

    async def ready_or_stopped() -> None:
        """Until the fork server is ready (or given up on), or the run is interrupted."""
        assert server is not None
        waits = {asyncio.ensure_future(server.ready()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in waits:
                pending.cancel()

    async def warm_up(slots: asyncio.Semaphore) -> None:
        async with slots:
            await ready_or_stopped()

    async def run_child(part: _Part) -> None:
        process: PlainChild | ForkedChild
        try:
            if server is not None and server.is_ready:
                try:
                    process = await ForkedChild.start(server, part.command, env)
                except OSError:  # the server has gone: a plain process, as without one
                    process = PlainChild(part.command, env)
            else:
                process = PlainChild(part.command, env)
        except OSError as exc:
            part.problem = f"could not start: {exc}"
            return
        part.started = True
        running.add(process)
        if stop.is_set():  # interrupted while it was being started
            process.send_signal(signal.SIGINT)
        try:
            out, err = await process.reader(process.stdout), await process.reader(process.stderr)
            readers = [
                asyncio.ensure_future(_pump(out, lambda text: relay.out(part, text))),
                asyncio.ensure_future(_pump(err, part.errors.append)),
            ]
            try:
                await wait(part, process)
            finally:
                running.discard(process)
            _, unread = await asyncio.wait(readers, timeout=KILL_WAIT_S)
            for reader in unread:
                reader.cancel()
        finally:
            process.close()
        part.exit_status = _exit_status(process.returncode)
        part.usage = process.usage
        if process.returncode == -signal.SIGINT:
            # Interrupted while Python started or exited, outside its pytest session: all it has
            # to say is Python's traceback.
            part.errors[:] = [f"drready: the {part.name} run was interrupted outside its session\n"]
        if process.returncode is None:
            part.problem = part.problem or "could not be waited for"

    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, interrupt)
    try:
        slots = asyncio.Semaphore(jobs)
        order = range(len(parts)) if start_order is None else start_order
        # The semaphore wakes its waiters first come, first served: they start in this order.
        warming = [] if server is None else [warm_up(slots)]
        await asyncio.gather(*warming, *(run(index, slots) for index in order))
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    return stop.is_set()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The children import what this process imported (the same drready, simulators and suites),
    # whatever the current directory holds: they run with -P and this process's sys.path.
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    if sys.stdout.isatty():  # the children write to a pipe, but their output ends up here
        env.setdefault("PY_COLORS", "1")
        env.setdefault("COLUMNS", str(shutil.get_terminal_size().columns))
    return env


def banner(title: str) -> str:
    """A heading line across the terminal, as pytest draws its own."""
    width = max(40, min(shutil.get_terminal_size().columns, 100))
    return f" {title} ".center(width, "=") + "\n"


def part_command(part: RunOptions, pytest_args: Sequence[str] = ()) -> list[str]:
    """The child ``drready run`` of one part."""
    command = [sys.executable, "-P", "-m", "drready.cli", "run"]
    if part.simulate is not None:
        command += ["--simulate", str(part.simulate)]
    if part.profile_path is not None:
        command += ["--profile", str(part.profile_path)]
    if part.unit is not None:
        command += ["--unit", str(part.unit)]
    if part.binding is not None:
        command += ["--binding", str(part.binding)]
    for name in part.faults:
        command += ["--fault", name]
    command += ["--report-dir", str(part.report_dir), "--run-id", part.run_id]
    command += ["--interrupt-after-test"]
    if part.time_scale != 1.0:
        command += ["--time-scale", repr(part.time_scale)]
    if part.impair is not None:
        command += ["--impair", part.impair.to_cli() if part.impair.active else "none"]
    if part.jcstar_list is not None:
        command += ["--jcstar-list", str(part.jcstar_list)]
    if part.seed is not None:
        command += ["--seed", str(part.seed)]
    if pytest_args:
        command += ["--", *pytest_args]
    return command


def part_jobs(specs: Sequence[PartSpec]) -> int:
    """How many parts run at once: one per CPU while every part is simulated (they compute),
    up to :data:`MAX_EXTERNAL_JOBS` when a part tests an external device (it waits on it)."""
    cpus = os.cpu_count() or 1
    external = not all(spec.simulated for spec in specs)
    return max(1, min(len(specs), MAX_EXTERNAL_JOBS if external else cpus))


def run_children(
    specs: Sequence[PartSpec],
    pytest_args: Sequence[str] = (),
    on_change: Callable[[list[PartResult]], None] = lambda results: None,
    *,
    jobs: int | None = None,
    warm_up: Callable[[], None] | None = None,
) -> tuple[bool, list[PartResult]]:
    """One child run per part, in parallel (``jobs`` at a time; default :func:`part_jobs`), their
    output relayed in order. ``on_change`` hears where every part stands before they start and
    whenever one ends. Returns whether the run was interrupted, and where every part ended. The
    caller has checked every option.

    Given ``warm_up`` (the command layer's) and more parts than run at once, the parts are
    forked by a fork server (:mod:`drready.run.forkserver`) once it has run ``warm_up``, each
    running its command line as ``python -m drready.cli`` does."""
    parts: list[_Part] = []
    for spec in specs:
        options = spec.options
        heading = [banner(f"{spec.name}: {options.report_dir}")]
        command = part_command(options, pytest_args)
        parts.append(
            _Part(spec.name, spec.device_class, options.run_id, command, spec.unit, heading)
        )
    if not parts:
        return False, []

    def results() -> list[PartResult]:
        return [part.result() for part in parts]

    on_change(results())
    if jobs is None:
        jobs = part_jobs(specs)
    # The longest first (a stable sort: equal weights keep the run's order).
    order = sorted(range(len(specs)), key=lambda index: -specs[index].weight)
    server = None
    early: frozenset[int] = frozenset()
    if warm_up is not None and len(parts) > jobs and unavailable() is None:
        server = ForkServer.start(warm_up)
        # While it warms up, the shortest parts start as plain processes (paying for their
        # imports), so that the longest are forked warm; then the longest first.
        early = frozenset(order[len(order) - (jobs - 1) :] if jobs > 1 else ())
        order = [
            *sorted(early, key=lambda index: specs[index].weight),
            *order[: len(order) - len(early)],
        ]

    async def run_all() -> bool:
        if server is not None:
            server.attach()
        try:
            return await _run_parts(
                parts, jobs, _child_env(), lambda: on_change(results()), order, server, early
            )
        finally:
            if server is not None:
                server.close()

    interrupted = asyncio.run(run_all())
    return interrupted, results()
