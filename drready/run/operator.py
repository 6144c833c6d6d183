"""Who carries out operator steps in a run: a person at the terminal, a remote power switch the
profile declares, or nobody.

The terminal is the process's controlling terminal (``/dev/tty``), opened for each step: pytest
captures the test's standard streams (standard input is /dev/null inside a test), so the prompt
and the keys go around it, and a run without a terminal (CI) has nobody to ask. The prompt shows
what to do (English and Japanese), what the answer confirms, and a countdown; the operator
presses Enter when done, ``s`` to skip (not exercised) or ``f`` when it could not be done; no
key before the timeout is a timeout. Keys are read one at a time with echo off (cbreak mode),
and the terminal's settings are put back whatever happens.
"""

from __future__ import annotations

import os
import select
import subprocess
import termios
import time
import tty
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from drready.clock import real_monotonic, real_now
from drready.operator import (
    OPERATOR_STEPS,
    NoOperator,
    Operator,
    OperatorAnswer,
    OperatorStep,
)
from drready.profile import OperatorSettings
from drready.run.progress import hms

__all__ = [
    "OPERATOR_STEPS",
    "NoOperator",
    "Operator",
    "OperatorAnswer",
    "OperatorStep",
    "PowerSwitch",
    "TerminalOperator",
    "choose_operator",
]

#: The controlling terminal.
TTY_PATH = "/dev/tty"
#: How often the countdown is redrawn (real seconds).
COUNTDOWN_S = 1.0
#: What a power switch command's output keeps in the evidence, per stream.
OUTPUT_CHARS = 2000

_KEYS = {b"\r": "done", b"\n": "done", b"s": "skipped", b"S": "skipped"}
_KEYS |= {b"f": "could-not", b"F": "could-not"}
_SAID = {
    "done": "done",
    "skipped": "skipped by the operator; not exercised",
    "could-not": "the operator reports it could not be done",
    "timeout": "no answer in time",
    "not-exercised": "the terminal closed; not exercised",
}


@dataclass
class TerminalOperator:
    """A person at ``tty_path``. ``hold`` is entered while the prompt is up (the run's progress
    line stays away from it)."""

    tty_path: str = TTY_PATH
    hold: Callable[[], AbstractContextManager[Any]] = nullcontext
    monotonic: Callable[[], float] = real_monotonic
    now: Callable[[], float] = real_now
    #: Overrides every step's own timeout (the profile's ``operator.step_timeout_s``).
    timeout_s: float | None = None

    def ask(self, step: OperatorStep) -> OperatorAnswer:
        asked_at = self.now()
        try:
            fd = os.open(self.tty_path, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            reason = f"no terminal to ask an operator on ({exc.strerror}); not exercised"
            return OperatorAnswer(step.id, "not-exercised", "nobody", asked_at, asked_at, reason)
        try:
            with self.hold():
                answer = self._ask(fd, step)
        finally:
            os.close(fd)
        return OperatorAnswer(step.id, answer, "operator", asked_at, self.now(), _SAID[answer])

    def _ask(self, fd: int, step: OperatorStep) -> str:
        timeout_s = step.timeout_s if self.timeout_s is None else self.timeout_s
        _write(fd, _prompt(step, timeout_s))
        try:
            saved = termios.tcgetattr(fd)
        except termios.error:
            saved = None  # not a terminal after all: read lines as they come
        try:
            if saved is not None:
                tty.setcbreak(fd)
            answer = self._wait_for_key(fd, timeout_s)
        finally:
            if saved is not None:
                termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
        _write(fd, f"\r\x1b[K  -> {step.id}: {_SAID[answer]}\r\n")
        return answer

    def _wait_for_key(self, fd: int, timeout_s: float) -> str:
        deadline = self.monotonic() + timeout_s
        while True:
            left = deadline - self.monotonic()
            if left <= 0:
                return "timeout"
            _write(
                fd,
                f"\r\x1b[K  waiting for the operator: {hms(left)} left "
                "[Enter: done, s: skip, f: could not]",
            )
            ready, _, _ = select.select([fd], [], [], min(COUNTDOWN_S, left))
            if not ready:
                continue
            key = os.read(fd, 1)
            if not key:
                return "not-exercised"
            if key in _KEYS:
                return _KEYS[key]


def _prompt(step: OperatorStep, timeout_s: float) -> str:
    lines = [
        "",
        f"=== OPERATOR STEP: {step.id} / 作業者の操作 ===",
        f"  {step.instruction}",
        f"  {step.instruction_ja}",
        f"  Answer Enter to confirm: {step.confirm}.",
        f"  s: skip (the check is not exercised); f: it could not be done. "
        f"Timeout {hms(timeout_s)}.",
        "",
    ]
    return "\r\n".join(lines)


def _write(fd: int, text: str) -> None:
    data = text.encode("utf-8")
    while data:
        data = data[os.write(fd, data) :]


@dataclass
class PowerSwitch:
    """A remote power switch: "restart" runs the profile's off command, waits ``power_off_s``,
    runs the on command, each bounded by ``command_timeout_s`` and checked by exit status; the
    other steps go to ``others``."""

    settings: OperatorSettings
    others: Operator
    now: Callable[[], float] = real_now
    sleep: Callable[[float], None] = time.sleep

    def ask(self, step: OperatorStep) -> OperatorAnswer:
        if step.id != "restart" or not self.settings.power_switch:
            return self.others.ask(step)
        asked_at = self.now()
        assert self.settings.power_off_command is not None
        assert self.settings.power_on_command is not None
        ran: list[dict[str, Any]] = []
        for name, argv in (
            ("power off", self.settings.power_off_command),
            ("power on", self.settings.power_on_command),
        ):
            if name == "power on":
                self.sleep(self.settings.power_off_s)  # the declared off time, not a sync
            result = _command(name, argv, self.settings.command_timeout_s)
            ran.append(result)
            if result["problem"]:
                detail = f"the power switch failed: {name}: {result['problem']}"
                answer = "could-not"
                return OperatorAnswer(
                    step.id, answer, "power-switch", asked_at, self.now(), detail, tuple(ran)
                )
        detail = f"power switched off and on again ({self.settings.power_off_s:g} s off)"
        return OperatorAnswer(
            step.id, "done", "power-switch", asked_at, self.now(), detail, tuple(ran)
        )


def _command(name: str, argv: Sequence[str], timeout_s: float) -> dict[str, Any]:
    """Run one command: what ran, its exit status and output, and the problem (\"\" if none)."""
    result: dict[str, Any] = {"name": name, "argv": list(argv)}
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        result |= {"exit_status": None, "stdout": _text(exc.stdout), "stderr": _text(exc.stderr)}
        result["problem"] = f"{argv[0]} did not finish within {timeout_s:g} s"
        return result
    except OSError as exc:
        result |= {"exit_status": None, "stdout": "", "stderr": ""}
        result["problem"] = f"{argv[0]}: {exc.strerror or exc}"
        return result
    result |= {"exit_status": done.returncode, "stdout": _text(done.stdout)}
    result["stderr"] = _text(done.stderr)
    result["problem"] = "" if done.returncode == 0 else f"exit status {done.returncode}"
    return result


def _text(output: str | bytes | None) -> str:
    if output is None:
        return ""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    return text[-OUTPUT_CHARS:]


def choose_operator(
    settings: OperatorSettings | None,
    *,
    enabled: bool,
    terminal: bool,
    hold: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> Operator:
    """The run's operator: the profile's power switch for restarts (always: it needs nobody),
    else a person at the terminal when there is one and operator steps are ``enabled``
    (``--no-operator`` turns them off), else nobody, saying why."""
    settings = settings or OperatorSettings()
    person: Operator
    if not enabled:
        person = NoOperator("operator steps are off (--no-operator); not exercised")
    elif not terminal:
        person = NoOperator("no terminal to ask an operator on (e.g. CI); not exercised")
    else:
        person = TerminalOperator(hold=hold, timeout_s=settings.step_timeout_s)
    if settings.power_switch:
        return PowerSwitch(settings, person)
    return person
