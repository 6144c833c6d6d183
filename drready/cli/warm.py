"""What a run imports and collects, done once in a warm process that then forks the runs (the
combined run's fork server, :mod:`drready.run.forkserver`; the detection matrix's warm runner)."""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pkgutil
import sys
from collections.abc import Iterator, Sequence

#: The pytest plugins a run leaves out, and the warm-up's collection with it:
#: - the cache: a run writes nothing beside the suites;
#: - Hypothesis's plugin imports all of Hypothesis (its modules assert-rewritten, ~0.8 s of CPU
#:   without cached bytecode) to end the session's summary; the suites use none of it;
#: - unraisableexception runs five full garbage collections after the report (a tenth of a water
#:   heater's run) to warn of exceptions in finalizers, which still reach stderr through
#:   Python's own hook;
#: - pytest-benchmark, where it is installed, asks git and hg for the project's name in eight
#:   subprocesses at every session's start (a tenth of a simulated gateway run); no suite
#:   benchmarks anything.
PLUGINS_OFF = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:unraisableexception",
    "-p",
    "no:benchmark",
)


def suites_config() -> tuple[str, str]:
    """The pytest option that gives a session on the suites their own configuration
    (``suites/run.ini``), whatever directory it starts in."""
    from drready.run.options import suites_dir

    return ("-c", str(suites_dir() / "run.ini"))


#: Modules a run imports late, on first use, that no module imports at its top: the virtual
#: clock's freezegun (and what its first scan of every module's attributes pulls in), the
#: certificates' OpenSSL backend, IDNA host names, pytest's unittest support. A child of the
#: warm process finds them imported (a fork's imports are a twentieth of a gateway run).
LATE_IMPORTS = (
    "freezegun",
    "concurrent.futures.process",
    "concurrent.futures.thread",
    "cryptography.hazmat.backends.openssl",
    "dateutil.easter",
    "dateutil.rrule",
    "dateutil.utils",
    "dateutil.zoneinfo",
    "encodings.idna",
    "idna.uts46data",
    "multiprocessing.queues",
    "six.moves.queue",
    "sqlite3",
    "tarfile",
    "unittest.async_case",
)


def import_all(package: str, skip: Sequence[str] = ()) -> None:
    """Import a package's modules, as some run would (lazy imports included). A ``__main__``
    module is a program, not a library: a child runs it itself (runpy warns of one imported)."""
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, f"{package}."):
        if module.name.rpartition(".")[2] == "__main__":
            continue
        if not any(module.name == s or module.name.startswith(f"{s}.") for s in skip):
            importlib.import_module(module.name)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """fd 1 and 2 to /dev/null for a while (a collection's output is nobody's)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def warm_up() -> None:
    """Import what a run imports, and collect the suites once, as a run collects them (their
    modules imported and assert-rewritten)."""
    import pytest

    from drready.clock import VirtualClock
    from drready.run.options import suites_dir
    from drready.simulation import backend

    # The declaration (plots, HTML, PDF) is never drawn by `drready run`; the rest is.
    import_all("drready", skip=("drready.suites", "drready.report.declaration"))
    # The simulators are a plugin (an entry point), found by the run: every module of its package.
    import_all(type(backend()).__module__.rpartition(".")[0])
    for name in LATE_IMPORTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    suites = suites_dir()
    argv = [str(suites), *suites_config(), *PLUGINS_OFF, "--collect-only"]
    with quiet():
        pytest.main([*argv, "--rootdir", str(suites.parent)])
    # A virtual clock once, every module imported: freezegun's first start reads every attribute
    # of every module (a child's only checks them against its cache), and the clock's first
    # certificate primes cryptography.
    VirtualClock().close()
    gc.collect()
    # What the warm process holds is never garbage in a child: the children's collections skip
    # it, and leave its pages shared.
    gc.freeze()
