"""The harness's own errors, apart from each protocol package's (which carry their wire codes).

A :class:`UsageError` is a mistake in what the user gave (a command-line option, a profile key,
a fault name): the CLI prints it as one line and exits with status 2, the pytest plugin raises
``pytest.UsageError`` with the same text. A :class:`SessionError` is a device under test that
could not be opened: nothing was tested, so it is neither a pass nor a fail.
"""

from __future__ import annotations

__all__ = ["DrreadyError", "SessionError", "UsageError"]


class DrreadyError(Exception):
    """Base of the harness's own errors."""


class UsageError(DrreadyError):
    """A mistake in what the user gave, said in one line (exit status 2 on the command line)."""


class SessionError(DrreadyError):
    """The device under test could not be opened (not a test failure: nothing was tested)."""
