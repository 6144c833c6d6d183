"""A combined run's child processes: a plain one (``python -m drready.cli run ...``) or one forked
by the fork server (:mod:`drready.run.forkserver`). Both read their output through the event
loop, and both know, once they have ended, their exit status and what they cost (wall and CPU
time, peak RSS)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import IO

from drready.run.forkserver import ForkServer
from drready.run.ledger import PartUsage


def rss_mb(maxrss: int) -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    return maxrss * (1 if sys.platform == "darwin" else 1024) / 1e6


class _Reading:
    """What both kinds of child share: their pipes read through the event loop."""

    _transports: list[asyncio.BaseTransport]

    async def reader(self, pipe: IO[bytes] | None) -> asyncio.StreamReader | None:
        if pipe is None:
            return None
        loop = asyncio.get_running_loop()
        stream = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), pipe
        )
        self._transports.append(transport)
        return stream

    def close(self) -> None:
        """Stop reading its output (a pipe at its end is closed already)."""
        for transport in self._transports:
            transport.close()


class PlainChild(_Reading):
    """A part's child process, its output read through the event loop and its end awaited by
    ``os.wait4`` in a thread of its own, so that what it cost (peak RSS, CPU time) is known:
    asyncio's own subprocesses are reaped by its child watcher, which drops that."""

    def __init__(self, command: Sequence[str], env: dict[str, str]) -> None:
        self._started_s = time.monotonic()
        self._popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            # Its own process group: Ctrl-C at the terminal reaches this process only, which
            # forwards it exactly once (pytest must not be interrupted again while it finishes
            # its report).
            process_group=0,
        )
        self.pid = self._popen.pid
        self.returncode: int | None = None
        self.usage: PartUsage | None = None
        self._lock = threading.Lock()
        self._reaped = False
        loop = asyncio.get_running_loop()
        self._ended: asyncio.Future[None] = loop.create_future()
        self._transports: list[asyncio.BaseTransport] = []
        threading.Thread(
            target=self._reap, args=(loop,), name=f"drready-wait-{self.pid}", daemon=True
        ).start()

    def _reap(self, loop: asyncio.AbstractEventLoop) -> None:
        if hasattr(os, "waitid"):
            # Wait for its end without reaping it: until it is reaped, its process ID cannot be
            # reused, so a signal sent meanwhile cannot reach another process.
            with suppress(OSError):  # then wait4 below waits (and reaps) at once
                os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        with self._lock:
            try:
                _, status, usage = os.wait4(self.pid, 0)
            except ChildProcessError:
                return  # reaped by someone else: its end stays unknown
            finally:
                self._reaped = True
        wall_s = time.monotonic() - self._started_s
        self._popen.returncode = returncode = os.waitstatus_to_exitcode(status)
        measured = PartUsage(wall_s, usage.ru_utime + usage.ru_stime, rss_mb(usage.ru_maxrss))
        with suppress(RuntimeError):  # the event loop has closed: nobody waits any more
            loop.call_soon_threadsafe(self._end, returncode, measured)

    def _end(self, returncode: int, usage: PartUsage) -> None:
        self.returncode, self.usage = returncode, usage
        if not self._ended.done():
            self._ended.set_result(None)

    async def wait(self) -> int | None:
        await asyncio.shield(self._ended)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        with self._lock:
            if not self._reaped:
                with suppress(ProcessLookupError):
                    os.kill(self.pid, signum)

    @property
    def stdout(self) -> IO[bytes] | None:
        return self._popen.stdout

    @property
    def stderr(self) -> IO[bytes] | None:
        return self._popen.stderr


class ForkedChild(_Reading):
    """A part's run forked by the fork server (:mod:`drready.run.forkserver`): its output read
    as a plain child's is; its end and what it cost told by the server (which reaps it), or, if
    the server has gone, its end seen on its pidfd."""

    def __init__(
        self, server: ForkServer, pid: int, stdout: IO[bytes], stderr: IO[bytes], started_s: float
    ) -> None:
        self._server = server
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.stderr: IO[bytes] | None = stderr
        self._started_s = started_s
        self.returncode: int | None = None
        self.usage: PartUsage | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._ended = False
        try:
            # Signals go through a pidfd: once the child has ended, they reach nobody else.
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError:
            self._pidfd = None  # it has ended already

    @classmethod
    async def start(
        cls, server: ForkServer, command: Sequence[str], env: dict[str, str]
    ) -> ForkedChild:
        # [python, -P, -m, MODULE, ARGS...]: the same module and arguments, in a fork.
        at = list(command).index("-m") + 1
        module, argv = command[at], list(command[at + 1 :])
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        started_s = time.monotonic()
        try:
            pid = await server.spawn(module, argv, env, out_write, err_write)
        except BaseException:
            os.close(out_read)
            os.close(err_read)
            raise
        finally:
            os.close(out_write)
            os.close(err_write)
        stdout, stderr = os.fdopen(out_read, "rb", 0), os.fdopen(err_read, "rb", 0)
        return cls(server, pid, stdout, stderr, started_s)

    async def wait(self) -> int | None:
        if self._ended:
            return self.returncode
        end = await self._server.ended(self.pid)
        if end is None and self._pidfd is not None:
            loop = asyncio.get_running_loop()
            gone: asyncio.Future[None] = loop.create_future()

            def seen() -> None:
                if not gone.done():
                    gone.set_result(None)

            loop.add_reader(self._pidfd, seen)
            try:
                await gone
            finally:
                loop.remove_reader(self._pidfd)
        self._ended = True
        if end is not None:
            self.returncode = end.returncode
            wall_s = time.monotonic() - self._started_s
            self.usage = PartUsage(wall_s, end.cpu_s, rss_mb(end.maxrss))
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self._pidfd is not None and not self._ended:
            with suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signum)

    def close(self) -> None:
        super().close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
