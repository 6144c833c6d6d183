"""One clock for a run: virtual when the DUT is in-process, real against hardware.

Virtual time works like this: the event loop's ``time()`` reads the virtual clock, and its
selector never blocks. When a poll finds nothing ready, the loop would have slept until the next
timer, so the selector moves the clock forward by exactly that long instead. Everything the loop
does in between (callbacks, in-memory datagrams, replies queued with ``call_soon``) happens at one
instant, so a reply in flight can never be overtaken by a jump in time: the jump only happens when
nothing at all is ready.

Wall-clock readers (``time.time()``, ``datetime.now()``) follow the same clock through freezegun
while a :class:`VirtualClock` is active.

Real loopback sockets (the server topology's HTTPS, in-process at both ends) also work: on Linux
a loopback send is normally in the peer's receive queue before the call returns. So that a
delivery the kernel defers (under load) is not overtaken by a jump, the selector, while any socket
besides the loop's own wake-up pipe is registered, waits :data:`SETTLE_S` of real time for one
before it jumps. (Not through the selector: epoll counts its waits in whole milliseconds, five
times as long, and a server-topology run makes about a thousand jumps. Nor from the kernel's
count of unacknowledged bytes: a loopback peer delays its acknowledgement of what it already
holds by tens of milliseconds.)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import selectors
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
# What a selector registers: a file descriptor or an object with fileno() (typeshed's private
# alias is not importable at run time).
_FileObject = Any

# Captured in a dict, not as module attributes: freezegun rewrites module attributes that are the
# real
# time functions, and the real clock must keep reading the real time while a virtual one is frozen.
_REAL: Mapping[str, Callable[[], float]] = {"time": time.time, "monotonic": time.monotonic}

#: The start of virtual time when nothing else is asked for: a fixed instant keeps simulated runs
#: reproducible (same timestamps, same plan times) from one run to the next.
DEFAULT_VIRTUAL_START = datetime(2027, 4, 1, 0, 0, 0, tzinfo=UTC)


#: Real seconds the virtual selector waits for a socket before a jump, while sockets are open.
SETTLE_S = 0.0002


class ClockError(RuntimeError):
    """The virtual loop was asked to wait with nothing scheduled: it would wait forever."""


class Clock(Protocol):
    """What the harness, the bindings and the simulators read time from."""

    @property
    def virtual(self) -> bool: ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (the event loop's time)."""
        ...

    def now(self) -> float:
        """Seconds since the Unix epoch, for timestamps in evidence and reports."""
        ...

    def new_event_loop(self) -> asyncio.AbstractEventLoop: ...

    def close(self) -> None: ...


class RealClock:
    """Real time, optionally scaled for an external DUT that runs its own clock faster.

    A device whose own clock runs faster (``--time-scale``) is handled by the DUT facade, which
    converts between the device's seconds and these real ones; the clock itself stays real.
    """

    virtual = False

    def monotonic(self) -> float:
        return _REAL["monotonic"]()

    def now(self) -> float:
        return _REAL["time"]()

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.new_event_loop()

    def close(self) -> None:
        pass


class _VirtualSelector(selectors.BaseSelector):
    """Wraps a real selector; a wait becomes a poll followed by a jump of the virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self._inner = selectors.DefaultSelector()
        self._clock = clock

    def register(
        self, fileobj: _FileObject, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: _FileObject) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: _FileObject, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready or timeout == 0:
            return ready
        if len(self._inner.get_map()) > 1:  # real sockets besides the loop's wake-up pipe
            time.sleep(SETTLE_S)
            ready = self._inner.select(0)
            if ready:
                return ready
        if timeout is None:
            # Nothing ready, no timer: on a real clock the loop would sleep until a socket speaks.
            # In a simulated run every peer is in-process, so that wait would never end.
            raise ClockError(
                "virtual time: the event loop has nothing to do and no timer to wait for "
                "(a wait with no timeout on an in-process peer)"
            )
        self._clock.advance(timeout)
        return []

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[_FileObject, selectors.SelectorKey]:
        return self._inner.get_map()


class _VirtualEventLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        self._virtual_clock = clock
        super().__init__(selector=_VirtualSelector(clock))

    # asyncio runs the timers due before time() + _clock_resolution. Virtual time is exact, so the
    # slack only has to survive float addition: one unit in the last place of the present time
    # (a fixed 1e-9 vanishes after 2**24 s of virtual time and the loop would spin for ever).
    @property
    def _clock_resolution(self) -> float:
        return max(1e-9, 2 * math.ulp(self.time()))

    @_clock_resolution.setter
    def _clock_resolution(self, value: float) -> None:
        pass  # BaseEventLoop.__init__ sets the real clock's resolution; ours is computed

    def time(self) -> float:
        return self._virtual_clock.monotonic()


class VirtualClock:
    """Virtual time shared by the event loop, the simulators and ``datetime.now()``.

    ``freeze_wall_clock`` patches ``time.time``/``datetime.now`` with freezegun for as long as
    the clock
    is open, so code that reads the wall clock (including third-party code) sees virtual time.
    """

    virtual = True

    def __init__(
        self, start: datetime = DEFAULT_VIRTUAL_START, *, freeze_wall_clock: bool = True
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the virtual start time must be timezone-aware")
        self._epoch_start = start.timestamp()
        self._elapsed_s = 0.0
        self._freezer: Any = None
        self._frozen: Any = None
        if freeze_wall_clock:
            import freezegun

            _prime_certificates()

            # tick=False: the frozen wall clock moves only when the virtual clock does.
            self._freezer = freezegun.freeze_time(start, tick=False)
            self._frozen = self._freezer.start()

    @property
    def elapsed_s(self) -> float:
        """Virtual seconds since the clock was made: the simulated time a run covered."""
        return self._elapsed_s

    def monotonic(self) -> float:
        return self._elapsed_s

    def now(self) -> float:
        return self._epoch_start + self._elapsed_s

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"virtual time cannot go back ({seconds} s)")
        self._elapsed_s += seconds
        if self._frozen is not None:
            self._frozen.move_to(datetime.fromtimestamp(self.now(), UTC))

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return _VirtualEventLoop(self)

    @contextlib.contextmanager
    def thawed(self) -> Iterator[None]:
        """Real wall-clock time for a moment, e.g. to sign a certificate that a TLS stack checks
        against the real date; the virtual clock resumes where it stood."""
        if self._freezer is None:
            yield
            return
        self._freezer.stop()
        try:
            yield
        finally:
            self._frozen = self._freezer.start()
            self._frozen.move_to(datetime.fromtimestamp(self.now(), UTC))

    def close(self) -> None:
        if self._freezer is not None:
            self._freezer.stop()
            self._freezer = None
            self._frozen = None


@functools.cache
def _prime_certificates() -> None:
    """Make one certificate before any freeze: cryptography (trustme's per-run CA, the TLS
    certificates of the server topology) caches the ``datetime`` type on its first certificate;
    made under freezegun it would keep freezegun's and refuse real datetimes for good."""
    import trustme

    trustme.CA()


class LoopRunner:
    """Runs coroutines on one long-lived loop from synchronous code (a suite, a REPL).

    Between calls the loop does not run, so in virtual time the clock stands still while a test
    thinks, and in-process simulators pick up where they were on the next call.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._loop = clock.new_event_loop()
        self._closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this LoopRunner is closed")
        return self._loop.run_until_complete(coro)

    def sleep(self, seconds: float) -> None:
        """Let the DUT run for ``seconds`` (virtual or real)."""
        self.run(asyncio.sleep(seconds))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = self._loop
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                # An interrupt (Ctrl-C) can leave a task waiting on something that will never
                # come; on a virtual loop that is an idle loop. Closing must not fail for it:
                # the run's report still has to be written.
                with contextlib.suppress(ClockError):
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            self.clock.close()


def real_now() -> float:
    """The real wall clock, even while a virtual clock freezes ``time.time``."""
    return _REAL["time"]()


def real_monotonic() -> float:
    return _REAL["monotonic"]()
