"""Progress of a long real-time run: the current requirement, the elapsed time, the time left
on the current DR window, and the run's time left against its plan (:mod:`drready.run.plan`).

A run against hardware spends hours inside a handful of tests, with nothing on the screen. On a
terminal, one status line is drawn in place (``\\r``) below pytest's output and redrawn every
second; it is erased before pytest writes anything, and pytest's line is ended first
(``ensure_newline``), so pytest's own output, ``-q`` included, is never overwritten. When the
output is not a terminal (a CI log), the same text is written as an ordinary line every few
minutes instead. Virtual-time runs take seconds and show nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TextIO

from drready.run.plan import Schedule, hms

__all__ = ["DrWindow", "Progress", "for_terminal", "hms"]

#: How often the in-place line is redrawn, and how often a log line is written (real seconds).
REDRAW_S = 1.0
LOG_EVERY_S = 300.0


@dataclass
class DrWindow:
    """A DR the harness asked for: what it is, and when it ends on the real clock."""

    label: str
    ends_at: float  # real monotonic seconds
    time_scale: float = 1.0

    def left_s(self, now: float) -> float:
        """Device seconds left."""
        return max(0.0, self.ends_at - now) * self.time_scale


class Progress:
    """The status of the running test, drawn on ``stream`` (see the module docstring)."""

    def __init__(
        self,
        stream: TextIO,
        monotonic: Callable[[], float],
        *,
        tty: bool,
        ensure_newline: Callable[[], None] = lambda: None,
        log_every_s: float = LOG_EVERY_S,
        width: int = 100,
        time_scale: float = 1.0,
        uncaptured: Callable[[], AbstractContextManager[Any]] = nullcontext,
        schedule: Schedule | None = None,
    ) -> None:
        self.stream = stream
        self.monotonic = monotonic
        self.tty = tty
        self.ensure_newline = ensure_newline
        self.log_every_s = log_every_s
        self.width = width
        #: Elapsed time is shown on the device's clock, like the DR window.
        self.time_scale = time_scale
        #: pytest captures the test's output while it runs; the line must get past that.
        self.uncaptured = uncaptured
        #: The run's plan (drready plan): the line shows the time left against it.
        self.schedule = schedule
        self.test: str | None = None
        self.requirements: tuple[str, ...] = ()
        self.test_started = 0.0
        self.window: DrWindow | None = None
        self._drawn = False
        self._held = False
        self._last_log = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the run tells it -------------------------------------------------------------
    def start_test(self, nodeid: str, requirements: tuple[str, ...]) -> None:
        with self._lock:
            self.test, self.requirements = nodeid, requirements
            self.test_started = self._last_log = self.monotonic()
            self.window = None

    def end_test(self) -> None:
        with self._lock:
            self._erase()
            self.test = None
            self.window = None

    def dr_window(self, label: str, device_seconds: float | None, time_scale: float) -> None:
        """A DR started that lasts ``device_seconds`` (None: until further notice)."""
        with self._lock:
            if device_seconds is None:
                self.window = DrWindow(label, float("inf"), time_scale)
            else:
                ends = self.monotonic() + device_seconds / time_scale
                self.window = DrWindow(label, ends, time_scale)

    def before_output(self) -> None:
        """pytest is about to write: take the status line away first."""
        with self._lock:
            self._erase()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Nothing is drawn inside the block (an operator's prompt is on the terminal)."""
        with self._lock:
            self._erase()
            self._held = True
        try:
            yield
        finally:
            with self._lock:
                self._held = False

    # -- drawing ---------------------------------------------------------------------------
    def text(self) -> str | None:
        if self.test is None:
            return None
        now = self.monotonic()
        # Most important first: a narrow terminal cuts the end (the test's name) off.
        parts = [f"drready {', '.join(self.requirements) or '-'}"]
        elapsed = (now - self.test_started) * self.time_scale
        parts.append(f"elapsed {hms(elapsed)}")
        left = self.schedule.left_device_s(self.test, elapsed) if self.schedule else None
        if left is not None:
            # Device time by the plan; on a real-time device's own clock it is real time.
            parts.append(f"run left {hms(left / self.time_scale)} by plan")
        if self.window is not None:
            left = self.window.left_s(now)
            shown = "open-ended" if left == float("inf") else f"{hms(left)} left"
            parts.append(f"{self.window.label}: {shown}")
        parts.append(self.test.rsplit("::", 1)[-1])
        return " | ".join(parts)

    def tick(self) -> None:
        """Draw once (called every REDRAW_S by the thread, or by a test)."""
        with self._lock:
            text = self.text()
            if text is None or self._held:
                return
            if self.tty:
                with self.uncaptured():
                    if not self._drawn:
                        self.ensure_newline()  # pytest's line ends; the next one is ours
                    self.stream.write("\r" + text[: self.width - 1] + "\x1b[K")
                    self.stream.flush()
                self._drawn = True
            elif self.monotonic() - self._last_log >= self.log_every_s:
                self._last_log = self.monotonic()
                with self.uncaptured():
                    self.ensure_newline()
                    self.stream.write(text + "\n")
                    self.stream.flush()

    def _erase(self) -> None:
        if self._drawn:
            with self.uncaptured():
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            self._drawn = False

    # -- the drawing thread ----------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="drready-progress", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(REDRAW_S):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            self._erase()


def for_terminal(
    reporter: Any,
    capture: Any,
    monotonic: Callable[[], float],
    time_scale: float,
    schedule: Schedule | None = None,
) -> Progress:
    """A Progress drawing on pytest's terminal reporter, past its capture manager (as pytest's
    live logging does)."""
    writer = reporter._tw  # pytest's TerminalWriter: the stream pytest itself writes to
    stream = writer._file

    def ensure_newline() -> None:
        reporter.ensure_newline()  # ends a "path/test_x.py ..." line; pytest re-prints the path
        if writer.width_of_current_line:  # -q: a line of bare dots
            writer.line()

    tty = bool(getattr(stream, "isatty", lambda: False)())
    return Progress(
        stream,
        monotonic,
        tty=tty,
        ensure_newline=ensure_newline,
        width=writer.fullwidth,
        time_scale=time_scale,
        uncaptured=nullcontext if capture is None else capture.global_and_fixture_disabled,
        schedule=schedule,
    )
