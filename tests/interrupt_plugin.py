"""A pytest plugin that stops a drready run at a chosen point, for tests/test_interruptions.py.

``DRREADY_TEST_STOP=HOW:WHERE`` (environment):
- HOW: ``sigint`` (Ctrl-C), ``sigterm``, ``crash`` (at a hook: an exception escapes it, an
  internal error; at a record: the process aborts, SIGABRT), ``kill`` (SIGKILL: nothing more
  runs, not even pytest's own clean-up).
- WHERE: ``record:N`` (as the N-th evidence record is written), or a hook name:
  ``collection_finish``, ``first_setup``, ``first_teardown``, ``last_call``, ``session_teardown``
  (as the DUT closes) or ``report_write:N`` (inside the N-th report write, before its rename).
The signal is sent to this process itself, so it arrives exactly there, not "about then".
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from drready import evidence as evidence_module
from drready import recorder as recorder_module
from drready.device import DeviceUnderTest
from drready.report import json_report

HOW, _, WHERE = os.environ.get("DRREADY_TEST_STOP", "").partition(":")


class Stop(RuntimeError):
    """The injected crash."""


def _stop(where: str) -> None:
    if HOW == "sigint":
        os.kill(os.getpid(), signal.SIGINT)
    elif HOW == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
    elif HOW == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif HOW == "crash" and where.startswith("record:"):
        os.abort()
    elif HOW == "crash":
        raise Stop(f"injected crash at {where}")


def _counting(original: Any, name: str) -> Any:
    target = int(WHERE.split(":")[1]) if WHERE.startswith(f"{name}:") else -1
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == target:
            _stop(WHERE)
        return original(*args, **kwargs)

    return wrapper


evidence_module.EvidenceLog.add = _counting(evidence_module.EvidenceLog.add, "record")  # type: ignore[method-assign]
if WHERE.startswith("report_write:"):
    # Inside the write: after the temporary file is written, before it replaces report.json.
    _replace = os.replace
    _nth = _counting(lambda: None, "report_write")

    def _write_atomic(path: Any, text: str) -> None:
        def replace(src: Any, dst: Any) -> None:
            _nth()
            _replace(src, dst)

        os.replace = replace  # type: ignore[assignment]
        try:
            _original_write_atomic(path, text)
        finally:
            os.replace = _replace

    _original_write_atomic = json_report.write_atomic
    json_report.write_atomic = _write_atomic  # type: ignore[assignment]

if WHERE == "session_teardown":
    _close = DeviceUnderTest.close

    def _closing(self: DeviceUnderTest) -> None:
        _stop(WHERE)
        _close(self)

    DeviceUnderTest.close = _closing  # type: ignore[method-assign]

_seen: set[str] = set()


def _once(where: str) -> None:
    if where == WHERE and where not in _seen:
        _seen.add(where)
        _stop(where)


def pytest_collection_finish(session: pytest.Session) -> None:
    _once("collection_finish")


def pytest_runtest_setup(item: pytest.Item) -> None:
    _once("first_setup")


def pytest_runtest_teardown(item: pytest.Item) -> None:
    _once("first_teardown")


def _runs(item: pytest.Item) -> bool:
    """Not skipped at setup for its topology: these runs use the gateway topology."""
    return all(m.args[:1] != ("server",) for m in item.iter_markers("topology"))


def pytest_runtest_call(item: pytest.Item) -> None:
    last = [i for i in item.session.items if _runs(i)][-1]
    if item.nodeid == last.nodeid:
        _once("last_call")


assert recorder_module  # the recorder is what is being tested; imported so it is loaded first
