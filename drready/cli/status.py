"""Exit statuses of the ``drready`` command."""

from __future__ import annotations

#: ``drready run``: a requirement is fail or inconclusive (pytest's TESTS_FAILED), a run went
#: wrong, or the evidence bundle could not be written. A run exits 0 only when no requirement
#: is fail or inconclusive.
EXIT_NOT_CONFORMANT = 1

#: A mistake in what the user gave: one line on stderr, nothing ran.
EXIT_USAGE = 2
#: Interrupted (SIGINT and friends), as a shell reports 128 + SIGINT.
EXIT_INTERRUPTED = 130
#: pytest's exit status for an interrupted session, as a single-class report records it.
PYTEST_INTERRUPTED = 2
