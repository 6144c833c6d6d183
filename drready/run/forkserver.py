"""The fork server of a combined run: one warm copy of ``drready run`` that forks the parts.

A part started as ``python -m drready.cli run ...`` spends most of a second of CPU before its
first test: starting Python, importing drready, pytest, aiohttp and the simulators, collecting
and assert-rewriting the suites (without cached bytecode, all of it compiled from source). A plain
run has ten parts on two cores. Instead, the combined run forks one server process before its
event loop starts; the server imports and collects all of that once (``warm_up``, given by the
command layer), then forks a child per part, which runs the part's command line as
``python -m drready.cli`` would (the same module, run as ``__main__`` with the same arguments)
and exits with its status.
Nothing is decided in the server: each child opens its own simulator, event loop, pytest
session, report and bundle.

The protocol is one datagram per message over a ``SOCK_SEQPACKET`` socket pair, JSON:

- server to run: ``{"ready": true}`` once warm;
- run to server: ``{"id": N, "module": "drready.cli", "argv": [...], "env": {...}, "cwd": "..."}``
  with the child's stdout
  and stderr pipe ends attached (``SCM_RIGHTS``);
- server to run: ``{"id": N, "pid": P}`` (or ``"error"``), and when the child has ended
  ``{"pid": P, "returncode": R, "cpu_s": C, "maxrss": M}`` from ``wait4``.

Forking is safe because the run has no thread and no event loop when it forks the server, and the
server has neither when it forks a child. Each child is its own process group, as a part started
with ``process_group=0`` is: Ctrl-C at the terminal reaches the run, which forwards it once. The
server ignores SIGINT and SIGHUP (the run stops the parts itself) and leaves when the run closes
its end of the socket, or disappears.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import runpy
import select
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

#: How long the server may take to warm up; past that, the parts start as plain processes.
WARM_UP_TIMEOUT_S = 60.0
#: How long to wait for the server to leave once the run is done with it.
CLOSE_TIMEOUT_S = 5.0
#: Exit status of a child whose command raised an exception no command catches.
EXIT_CRASHED = 70
_MAX_MESSAGE = 1 << 20


def unavailable() -> str | None:
    """Why this process cannot start a fork server now (None: it can)."""
    if os.environ.get("DRREADY_FORKSERVER", "1") == "0":
        return "DRREADY_FORKSERVER=0"
    if not (hasattr(os, "fork") and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")):
        return "no fork, pidfd or SCM_RIGHTS on this system"
    if threading.active_count() != 1:
        return "the run has threads"
    return None


@dataclass(frozen=True)
class ChildEnd:
    """How a forked child ended, from the server's ``wait4``."""

    returncode: int
    cpu_s: float
    #: ``ru_maxrss`` as the system gives it (KiB on Linux).
    maxrss: int


class ForkServer:
    """The run's end of a fork server (see the module's text)."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self._sock = sock
        self.pid = pid
        self._next_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Future[bool] | None = None
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ends: dict[int, asyncio.Future[ChildEnd | None]] = {}
        self._closed = False

    @classmethod
    def start(cls, warm_up: Callable[[], None]) -> ForkServer:
        """Fork the server; it warms up while the caller goes on. The caller has checked
        :func:`unavailable`."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the server
            code = 1
            try:
                ours.close()
                _serve(theirs, warm_up)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        theirs.close()
        return cls(ours, pid)

    # -- in the run's event loop --------------------------------------------------------------

    def attach(self) -> None:
        """Start listening to the server, from the run's event loop."""
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        self._sock.setblocking(False)
        self._loop.add_reader(self._sock.fileno(), self._receive)

    async def ready(self, timeout_s: float = WARM_UP_TIMEOUT_S) -> bool:
        """Whether the server has warmed up (False: it failed, or took longer than allowed)."""
        assert self._ready is not None, "attach() first"
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), timeout_s)
        except TimeoutError:
            if not self._ready.done():  # given up on: the parts waiting for it go on at once
                self._ready.set_result(False)
            return False

    @property
    def is_ready(self) -> bool:
        return self._ready is not None and self._ready.done() and self._ready.result()

    def _receive(self) -> None:
        while True:
            try:
                data = self._sock.recv(_MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._gone()
                return
            message = json.loads(data)
            if message.get("ready"):
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(True)
            elif "id" in message:
                reply = self._replies.pop(int(message["id"]), None)
                if reply is not None and not reply.done():
                    reply.set_result(message)
            elif "pid" in message:
                end = ChildEnd(
                    int(message["returncode"]), float(message["cpu_s"]), int(message["maxrss"])
                )
                self._end_future(int(message["pid"])).set_result(end)

    def _end_future(self, pid: int) -> asyncio.Future[ChildEnd | None]:
        # The end may be told before the spawn's reply is read (a child that ends at once):
        # whoever comes first makes the future; ended() takes it away (process IDs recur).
        assert self._loop is not None
        future = self._ends.get(pid)
        if future is None:
            future = self._ends[pid] = self._loop.create_future()
            if self._closed:
                future.set_exception(OSError("the fork server has gone"))
        return future

    def _gone(self) -> None:
        """The server has left: nothing more will come from it."""
        if self._loop is not None and not self._closed:
            self._loop.remove_reader(self._sock.fileno())
        self._closed = True
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(False)
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(OSError("the fork server has gone"))
        for end in self._ends.values():
            if not end.done():
                end.set_exception(OSError("the fork server has gone"))

    async def spawn(
        self, module: str, argv: Sequence[str], env: Mapping[str, str], stdout: int, stderr: int
    ) -> int:
        """Fork a child that runs ``python -m MODULE ARGV`` with ``env``, writing to the
        ``stdout`` and ``stderr`` descriptors (the caller closes its copies); its process ID."""
        if self._closed or self._loop is None:
            raise OSError("the fork server has gone")
        self._next_id += 1
        ident = self._next_id
        reply = self._replies[ident] = self._loop.create_future()
        request = {
            "id": ident,
            "module": module,
            "argv": list(argv),
            "env": dict(env),
            "cwd": os.getcwd(),
        }
        socket.send_fds(self._sock, [json.dumps(request).encode()], [stdout, stderr])
        message = await asyncio.wait_for(reply, CLOSE_TIMEOUT_S)
        if "error" in message:
            raise OSError(message["error"])
        return int(message["pid"])

    async def ended(self, pid: int) -> ChildEnd | None:
        """How child ``pid`` ended (None: the server left before it could say)."""
        try:
            return await self._end_future(pid)
        except OSError:
            return None
        finally:
            self._ends.pop(pid, None)

    def close(self) -> None:
        """Let the server go (it leaves at once; its children are not affected) and reap it."""
        if self._loop is not None and not self._closed:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_reader(self._sock.fileno())
        self._closed = True
        self._sock.close()
        _reap(self.pid, CLOSE_TIMEOUT_S)


def _reap(pid: int, timeout_s: float) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        return
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout_s)
        if not ready:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    finally:
        os.close(pidfd)


# -- the server -------------------------------------------------------------------------------


def _serve(sock: socket.socket, warm_up: Callable[[], None]) -> None:
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    warm_up()
    sock.send(json.dumps({"ready": True}).encode())
    children: dict[int, int] = {}  # pidfd -> pid
    listening = sock.fileno()
    while True:
        ready, _, _ = select.select([listening, *children], [], [])
        for pidfd in ready:
            if pidfd not in children:
                continue
            pid = children.pop(pidfd)
            os.close(pidfd)
            _, status, usage = os.wait4(pid, 0)
            message = {
                "pid": pid,
                "returncode": os.waitstatus_to_exitcode(status),
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "maxrss": usage.ru_maxrss,
            }
            sock.send(json.dumps(message).encode())
        if listening not in ready:
            continue
        try:
            data, fds, _flags, _address = socket.recv_fds(sock, _MAX_MESSAGE, 2)
        except OSError:
            data, fds = b"", []
        if not data:
            return  # the run has closed its end, or has gone
        request = json.loads(data)
        try:
            pid = _fork(request, fds, sock, children)
            sock.send(json.dumps({"id": request["id"], "pid": pid}).encode())
            children[os.pidfd_open(pid)] = pid
        except OSError as exc:
            sock.send(json.dumps({"id": request["id"], "error": str(exc)}).encode())
        finally:
            for fd in fds:
                os.close(fd)


def _stream(fd: int, mode: str) -> Any:
    encoding = getattr(sys.__stdout__, "encoding", None) or "utf-8"
    errors = "backslashreplace" if fd == 2 else "strict"
    return open(  # the child's stream for as long as it lives
        fd, mode, encoding=encoding, errors=errors, closefd=False, buffering=1
    )


def _fork(
    request: dict[str, Any], fds: list[int], sock: socket.socket, children: dict[int, int]
) -> int:
    if len(fds) != 2:
        raise OSError(f"expected the child's stdout and stderr, got {len(fds)} descriptors")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    run_in_fork(
        str(request["module"]),
        [str(arg) for arg in request["argv"]],
        fds[0],
        fds[1],
        cwd=str(request["cwd"]),
        env=request["env"],
        close=[sock.fileno(), *children],
    )


def run_in_fork(
    module: str,
    argv: Sequence[str],
    stdout: int,
    stderr: int,
    *,
    cwd: str,
    env: Mapping[str, str] | None = None,
    own_group: bool = True,
    close: Sequence[int] = (),
) -> NoReturn:
    """In a process just forked from a warm one: become ``python -m MODULE ARGV`` writing to the
    ``stdout`` and ``stderr`` descriptors (stdin from /dev/null), and exit with its status.
    ``own_group``: its own process group (as a part started with ``process_group=0``);
    ``close``: the warm process's descriptors the child must not hold."""
    code = EXIT_CRASHED
    try:
        if own_group:
            os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        for fd in close:
            os.close(fd)
        stdin = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
        # New streams on the new descriptors: whatever sys.stdout was in the warm process (a
        # capture, a terminal's line-buffered stream) is not the child's.
        for name, fd, mode in (("stdin", 0, "r"), ("stdout", 1, "w"), ("stderr", 2, "w")):
            stream = _stream(fd, mode)
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        os.chdir(cwd)
        sys.argv = ["drready", *argv]
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
