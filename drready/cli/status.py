"""Exit statuses of the ``drready`` command."""

from __future__ import annotations

#: A mistake in what the user gave: one line on stderr, nothing ran.
EXIT_USAGE = 2
#: Interrupted (SIGINT and friends), as a shell reports 128 + SIGINT.
EXIT_INTERRUPTED = 130
#: pytest's exit status for an interrupted session, as a single-class report records it.
PYTEST_INTERRUPTED = 2
