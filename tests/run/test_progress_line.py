"""The progress line of long real-time runs (drready.run.progress)."""

from __future__ import annotations

import io

import pytest

from drready.run.progress import Progress, hms


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_hms() -> None:
    assert hms(0) == "0:00:00"
    assert hms(3725.4) == "1:02:05"
    assert hms(-3) == "0:00:00"


def test_terminal_line_is_drawn_in_place_and_erased_before_pytest_writes() -> None:
    stream, clock, newlines = io.StringIO(), Clock(), []
    progress = Progress(stream, clock, tty=True, ensure_newline=lambda: newlines.append(1))
    progress.tick()
    assert stream.getvalue() == ""  # no test running: nothing to say
    progress.start_test("suites/battery/test_x.py::test_holds", ("BAT-2.2",))
    clock.now += 65
    progress.dr_window("DR -1500 W", 3600, time_scale=1.0)
    clock.now += 600
    progress.tick()
    shown = stream.getvalue()
    assert newlines == [1]  # pytest's line was ended first: nothing of it is overwritten
    assert shown == (
        "\rdrready BAT-2.2 | elapsed 0:11:05 | DR -1500 W: 0:50:00 left | test_holds\x1b[K"
    )
    progress.tick()
    assert newlines == [1]  # redrawn on its own line, no new line each time
    progress.before_output()
    assert stream.getvalue().endswith("\r\x1b[K")  # gone before pytest writes the outcome
    progress.end_test()
    before = stream.getvalue()
    progress.tick()
    assert stream.getvalue() == before


def test_accelerated_device_and_open_ended_windows() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock, tty=True)
    progress.start_test("t.py::test_a", ("BAT-2.7",))
    progress.dr_window("DR +1000 W", 7200, time_scale=60.0)  # 2 device hours = 2 real minutes
    clock.now += 60
    assert (
        progress.text() == "drready BAT-2.7 | elapsed 0:01:00 | DR +1000 W: 1:00:00 left | test_a"
    )
    progress.dr_window("DR +1000 W", None, time_scale=60.0)
    assert "DR +1000 W: open-ended" in (progress.text() or "")


def test_a_log_gets_a_plain_line_every_few_minutes_only() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock, tty=False, log_every_s=300)
    progress.start_test("t.py::test_a", ("HP-2.3",))
    clock.now += 100
    progress.tick()
    assert stream.getvalue() == ""
    clock.now += 200
    progress.tick()
    progress.tick()
    assert stream.getvalue() == "drready HP-2.3 | elapsed 0:05:00 | test_a\n"
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_the_thread_starts_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drready.run.progress.REDRAW_S", 0.01)
    stream = io.StringIO()
    progress = Progress(stream, Clock(), tty=True)
    progress.start_test("t.py::test_a", ())
    progress.start()
    progress.stop()
    assert progress._thread is None
