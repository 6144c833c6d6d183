"""Operator steps: the terminal prompt, the remote power switch, nobody to ask, and a whole run
against an external device whose restart an operator carries out through a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from drready.suites.common import test_communication as communication_suite

from drready.errors import NotExercised
from drready.operator import OPERATOR_STEPS, NoOperator, OperatorStep
from drready.profile import SIMULATOR_ADDRESS, OperatorSettings
from drready.run.operator import PowerSwitch, TerminalOperator, choose_operator
from tests.helpers import announced, drready_run, loopback_hosts

REPO = Path(__file__).resolve().parents[2]
BUILT_IN = REPO / "drready" / "profile" / "builtin" / "battery.toml"
RESTART_TEST = "test_identity_stable_across_restart"
QUICK = OperatorStep("restart", "Do it.", "してください。", "it is done", 5.0)


# -- the terminal prompt, on a pseudo-terminal of this process -----------------------------------
@contextmanager
def terminal() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal: (the master side, the path of the slave side)."""
    master, slave = pty.openpty()
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def read_until(fd: int, text: str, timeout_s: float = 10.0) -> str:
    seen = b""
    deadline = time.monotonic() + timeout_s
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, (
            f"{text!r} not seen within {timeout_s} s; saw {seen.decode(errors='replace')!r}"
        )
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other side closed
                chunk = b""
            if not chunk:
                break
            seen += chunk
    return seen.decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("key", "answer"), [(b"\r", "done"), (b"s", "skipped"), (b"f", "could-not")]
)
def test_the_terminal_prompt_shows_the_step_and_takes_one_key(key: bytes, answer: str) -> None:
    with terminal() as (master, path):
        import threading

        operator = TerminalOperator(tty_path=path)
        result: list[Any] = []
        thread = threading.Thread(target=lambda: result.append(operator.ask(QUICK)))
        thread.start()
        shown = read_until(master, "f: could not]")
        os.write(master, b"x" + key)  # an unknown key is ignored
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert "OPERATOR STEP: restart" in shown and "Do it." in shown and "してください。" in shown
    assert "it is done" in shown and "left" in shown
    (got,) = result
    assert got.answer == answer and got.by == "operator" and got.step == "restart"
    assert got.answered_at >= got.asked_at


def test_no_key_before_the_timeout_is_a_timeout() -> None:
    with terminal() as (_master, path):
        operator = TerminalOperator(tty_path=path, timeout_s=0.3)
        got = operator.ask(QUICK)
    assert got.answer == "timeout" and got.waited_s >= 0.3


def test_without_a_terminal_nobody_is_asked() -> None:
    got = TerminalOperator(tty_path="/nonexistent/tty").ask(QUICK)
    assert got.answer == "not-exercised" and "not exercised" in got.detail


def test_the_run_chooses_its_operator() -> None:
    off = choose_operator(None, enabled=False, terminal=True)
    assert isinstance(off, NoOperator) and "--no-operator" in off.reason
    ci = choose_operator(None, enabled=True, terminal=False)
    assert isinstance(ci, NoOperator) and "no terminal" in ci.reason
    assert isinstance(choose_operator(None, enabled=True, terminal=True), TerminalOperator)
    switch = OperatorSettings(power_off_command=("true",), power_on_command=("true",))
    chosen = choose_operator(switch, enabled=False, terminal=False)
    assert isinstance(chosen, PowerSwitch) and isinstance(chosen.others, NoOperator)


# -- the remote power switch ------------------------------------------------------------------
def _switch(off: list[str], on: list[str], timeout_s: float = 10.0) -> PowerSwitch:
    settings = OperatorSettings(
        power_off_command=tuple(off),
        power_on_command=tuple(on),
        power_off_s=0,
        command_timeout_s=timeout_s,
    )
    return PowerSwitch(settings, NoOperator("nobody"))


def test_the_power_switch_runs_both_commands_and_keeps_their_output() -> None:
    py = sys.executable
    got = _switch([py, "-c", "print('off')"], [py, "-c", "print('on')"]).ask(
        OPERATOR_STEPS["restart"]
    )
    assert got.answer == "done" and got.by == "power-switch"
    assert [(c["name"], c["exit_status"], c["stdout"]) for c in got.commands] == [
        ("power off", 0, "off\n"),
        ("power on", 0, "on\n"),
    ]


@pytest.mark.parametrize(
    ("off", "problem"),
    [
        ([sys.executable, "-c", "import sys; sys.exit(3)"], "exit status 3"),
        ([sys.executable, "-c", "import time; time.sleep(30)"], "did not finish within 0.5 s"),
        (["/nonexistent/switch"], "/nonexistent/switch"),
    ],
)
def test_a_failing_power_switch_could_not_restart(off: list[str], problem: str) -> None:
    got = _switch(off, ["true"], timeout_s=0.5).ask(OPERATOR_STEPS["restart"])
    assert got.answer == "could-not" and problem in got.detail
    assert len(got.commands) == 1  # the device is never switched on after a failed off


def test_steps_other_than_restart_go_to_the_person() -> None:
    other = OperatorStep("press-button", "Press it.", "押す。", "pressed", 1.0)
    got = _switch(["true"], ["true"]).ask(other)
    assert got.answer == "not-exercised" and got.detail == "nobody"


# -- the restart test's own checks (a device that misbehaves) -----------------------------------
class _Device:
    def __init__(self, identities: list[str], states: list[str | None]) -> None:
        self.identities, self.states = identities, states

    def identity(self) -> str:
        return self.identities.pop(0)

    def own_state(self) -> str | None:
        return self.states.pop(0)

    def settle_own_state(self) -> str | None:
        return self.own_state()

    def restart(self) -> None:
        pass


def test_the_restart_test_fails_a_device_back_in_another_mode() -> None:
    with pytest.raises(AssertionError, match="own mode auto before the restart and came back"):
        communication_suite.test_identity_stable_across_restart(
            _Device(["A", "A"], ["auto", "discharging"])
        )  # type: ignore[arg-type]


def test_the_restart_test_fails_a_changed_identity() -> None:
    with pytest.raises(AssertionError, match="identity before restart"):
        communication_suite.test_identity_stable_across_restart(_Device(["A", "B"], [None]))  # type: ignore[arg-type]


def test_the_restart_test_starts_from_the_own_state_it_settled() -> None:
    """A DR left by another test is released before the restart, not blamed on it: the state
    compared is the one the device was settled in."""
    device = _Device(["A", "A"], ["auto", "auto"])
    settled: list[bool] = []
    device.settle_own_state = lambda: settled.append(True) or device.own_state()  # type: ignore[method-assign]
    communication_suite.test_identity_stable_across_restart(device)  # type: ignore[arg-type]
    assert settled == [True]


def test_nobody_to_restart_is_not_exercised() -> None:
    device = _Device(["A"], [None])
    device.restart = lambda: (_ for _ in ()).throw(NotExercised("restart needs an operator"))  # type: ignore[method-assign]
    with pytest.raises(NotExercised):
        communication_suite.test_identity_stable_across_restart(device)  # type: ignore[arg-type]


# -- whole runs against an external device --------------------------------------------------------
@contextmanager
def simulator(host: str, port: int = 0) -> Iterator[int]:
    """``drready simulate battery --bind HOST:PORT`` until the block ends; yields its port."""
    command = [
        sys.executable,
        "-m",
        "drready.cli",
        "simulate",
        "battery",
        "--bind",
        f"{host}:{port}",
    ]
    with announced(command, "the simulator") as (_process, banner):
        yield int(banner.split(f"udp://{host}:")[1].split()[0])


def external_profile(tmp_path: Path, host: str, port: int, extra: str = "") -> Path:
    text = BUILT_IN.read_text(encoding="utf-8")
    (local,) = loopback_hosts(1)
    text = text.replace(
        f'address = "{SIMULATOR_ADDRESS}"', f'address = "{host}"\nlocal_address = "{local}"'
    )
    text = text.replace("port = 3610", f"port = {port}")
    text = text.replace("multicast_discovery = true", "multicast_discovery = false")
    path = tmp_path / "external.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


@contextmanager
def run_on_a_terminal(profile: Path, report_dir: Path, *options: str) -> Iterator[tuple[int, int]]:
    """``drready run --profile ... -- -k RESTART_TEST`` with a pseudo-terminal as its controlling
    terminal and standard streams: yields (its pid, the master side)."""
    argv = [sys.executable, "-m", "drready.cli", "run", "--profile", str(profile)]
    argv += ["--report-dir", str(report_dir), *options, "--", "-k", RESTART_TEST]
    pid, master = pty.fork()
    if pid == 0:  # the child: exec at once
        os.execv(sys.executable, argv)
    try:
        yield pid, master
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.close(master)


def finish(pid: int, master: int, timeout_s: float = 60.0) -> tuple[int, str]:
    """Read the child's terminal until it exits: (its exit status, what it wrote)."""
    rest = _drain(master, timeout_s)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), rest


def _drain(fd: int, timeout_s: float) -> str:
    seen = b""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"the run did not end within {timeout_s} s: {seen[-2000:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return seen.decode("utf-8", "replace")
        if not chunk:
            return seen.decode("utf-8", "replace")
        seen += chunk


def report_of(report_dir: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    return report


def restart_outcome(report: dict[str, Any]) -> dict[str, Any]:
    (requirement,) = [r for r in report["requirements"] if r["id"] == "BAT-ID"]
    (test,) = [t for t in requirement["tests"] if t["nodeid"].endswith(RESTART_TEST)]
    return {"verdict": requirement["verdict"], "reason": requirement["reason"], **test}


def operator_records(report_dir: Path) -> list[dict[str, Any]]:
    lines = (report_dir / "evidence.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "operator"]


def verify(report_dir: Path) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "drready.cli", "verify", str(report_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# The one whole run in the fast part: the Done-when of operator steps (issue 14), ~6 s.
def test_an_operator_restarts_an_external_device_through_the_terminal(tmp_path: Path) -> None:
    host, _ = loopback_hosts(2)
    report_dir = tmp_path / "run"
    with ExitStack() as device:
        port = device.enter_context(simulator(host))
        profile = external_profile(tmp_path, host, port)
        with run_on_a_terminal(profile, report_dir) as (pid, master):
            shown = read_until(master, "f: could not]", timeout_s=60)
            assert "OPERATOR STEP: restart" in shown, shown
            # What an operator does: the device goes off, comes back (the same unit, on the
            # same address), and then they press Enter.
            device.close()
            with simulator(host, port):
                os.write(master, b"\r")
                status, rest = finish(pid, master)
    assert "restart: done" in rest, rest
    assert status == 0, rest
    outcome = restart_outcome(report_of(report_dir))
    assert outcome["outcome"] == "passed" and outcome["verdict"] == "pass", outcome
    asked, answered = operator_records(report_dir)
    assert asked["values"]["state"] == "asked" and asked["values"]["id"] == "restart"
    assert answered["values"]["answer"] == "done" and answered["values"]["by"] == "operator"
    assert answered["test"].endswith(RESTART_TEST)
    verify(report_dir)


@pytest.mark.slow
def test_without_a_terminal_the_restart_is_not_exercised(tmp_path: Path) -> None:
    host, _ = loopback_hosts(2)
    with simulator(host) as port:
        profile = external_profile(tmp_path, host, port)
        done = drready_run(profile, tmp_path / "run", "--", "-k", RESTART_TEST, timeout_s=120)
    assert "OPERATOR STEP" not in done.stdout
    outcome = restart_outcome(report_of(tmp_path / "run"))
    assert outcome["outcome"] == "skipped", outcome
    assert "no terminal to ask an operator on" in outcome["message"], outcome
    assert "not exercised" in outcome["message"]
    assert outcome["verdict"] != "pass", outcome  # a skipped check never passes a requirement
    (_, answered) = operator_records(tmp_path / "run")
    assert answered["values"]["answer"] == "not-exercised"
    verify(tmp_path / "run")


@pytest.mark.slow
def test_no_operator_asks_nobody_even_on_a_terminal(tmp_path: Path) -> None:
    host, _ = loopback_hosts(2)
    with simulator(host) as port:
        profile = external_profile(tmp_path, host, port)
        with run_on_a_terminal(profile, tmp_path / "run", "--no-operator") as (pid, master):
            _status, shown = finish(pid, master)
    assert "OPERATOR STEP" not in shown, shown
    outcome = restart_outcome(report_of(tmp_path / "run"))
    assert outcome["outcome"] == "skipped" and "--no-operator" in outcome["message"], outcome
    assert outcome["verdict"] != "pass", outcome


@pytest.mark.slow
def test_an_unanswered_step_leaves_the_test_inconclusive(tmp_path: Path) -> None:
    host, _ = loopback_hosts(2)
    with simulator(host) as port:
        profile = external_profile(tmp_path, host, port, "\n[operator]\nstep_timeout_s = 1\n")
        with run_on_a_terminal(profile, tmp_path / "run") as (pid, master):
            status, shown = finish(pid, master)
    assert "OPERATOR STEP: restart" in shown and "no answer in time" in shown, shown
    assert status == 1, shown
    outcome = restart_outcome(report_of(tmp_path / "run"))
    assert outcome["outcome"] == "inconclusive", outcome
    assert outcome["verdict"] == "inconclusive" and "no answer within" in outcome["message"]
    verify(tmp_path / "run")


#: A power switch for a simulator process: "off" stops it (and waits until it has gone), "on"
#: starts a new one on the same address, detached, and waits for its banner.
POWER_SWITCH = """
import os, signal, subprocess, sys, time
what, pid_file, host, port = sys.argv[1:5]
if what == "off":
    pid = int(open(pid_file).read())
    os.kill(pid, signal.SIGINT)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("off: stopped", pid)
            sys.exit(0)
        time.sleep(0.1)
    sys.exit("off: still running")
log = pid_file + ".log"
process = subprocess.Popen(
    [sys.executable, "-m", "drready.cli", "simulate", "battery", "--bind", f"{host}:{port}"],
    stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
)
open(pid_file, "w").write(str(process.pid))
for _ in range(150):
    if "udp://" in open(log).read():
        print("on: started", process.pid)
        sys.exit(0)
    time.sleep(0.1)
sys.exit("on: no banner")
"""


@pytest.mark.slow
def test_a_power_switch_restarts_the_device_without_a_person(tmp_path: Path) -> None:
    host, _ = loopback_hosts(2)
    script = tmp_path / "switch.py"
    script.write_text(POWER_SWITCH, encoding="utf-8")
    pid_file = tmp_path / "device.pid"
    with simulator(host) as port:
        pass  # a free port on that address, known before the switch starts the device
    on = [sys.executable, str(script), "on", str(pid_file), host, str(port)]
    off = [sys.executable, str(script), "off", str(pid_file), host, str(port)]
    try:
        import subprocess

        subprocess.run(on, check=True, timeout=30, capture_output=True)
        first = pid_file.read_text()
        extra = (
            f"\n[operator]\npower_off_command = {json.dumps(off)}\n"
            f"power_on_command = {json.dumps(on)}\npower_off_s = 0.5\n"
        )
        profile = external_profile(tmp_path, host, port, extra)
        done = drready_run(profile, tmp_path / "run", "--", "-k", RESTART_TEST, timeout_s=120)
        assert pid_file.read_text() != first, "the device was not power-cycled"
    finally:
        if pid_file.exists():
            with suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGINT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "OPERATOR STEP" not in done.stdout
    outcome = restart_outcome(report_of(tmp_path / "run"))
    assert outcome["outcome"] == "passed" and outcome["verdict"] == "pass", outcome
    (_, answered) = operator_records(tmp_path / "run")
    values = answered["values"]
    assert values["answer"] == "done" and values["by"] == "power-switch"
    assert [c["name"] for c in values["commands"]] == ["power off", "power on"]
    assert values["commands"][0]["stdout"].startswith("off: stopped")
    verify(tmp_path / "run")
