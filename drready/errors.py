"""The harness's own errors, apart from each protocol package's (which carry their wire codes).

A :class:`UsageError` is a mistake in what the user gave (a command-line option, a profile key,
a fault name): the CLI prints it as one line and exits with status 2, the pytest plugin raises
``pytest.UsageError`` with the same text. A :class:`SessionError` is a device under test that
could not be opened: nothing was tested, so it is neither a pass nor a fail.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DrreadyError",
    "ExchangeError",
    "Inconclusive",
    "NotExercised",
    "ProfileError",
    "SessionError",
    "UsageError",
]


class DrreadyError(Exception):
    """Base of the harness's own errors."""


class UsageError(DrreadyError):
    """A mistake in what the user gave, said in one line (exit status 2 on the command line)."""


class SessionError(DrreadyError):
    """The device under test could not be opened (not a test failure: nothing was tested)."""


class ProfileError(UsageError):
    """A profile that cannot be used, explained in one line.

    ``key`` is the dotted TOML key ("" for the whole document), ``expected`` what would have been
    accepted, ``got`` what was found (None when nothing was). ``problem``, when set, replaces the
    "expected ..., got ..." wording for errors that are not about one value (missing file, syntax).
    """

    def __init__(
        self,
        key: str,
        expected: str,
        got: str | None = None,
        *,
        path: Path | None = None,
        problem: str | None = None,
    ) -> None:
        self.key = key
        self.expected = expected
        self.got = got
        self.path = path
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.problem is not None:
            body = self.problem
        else:
            body = f"expected {self.expected}" + (
                f", got {self.got}" if self.got is not None else ""
            )
        parts = [str(self.path)] if self.path is not None else []
        parts += [self.key] if self.key else []
        # One line always: the CLI prints it after "error:" and pytest as a UsageError.
        return ": ".join([*parts, body]).replace("\n", " ")

    def with_path(self, path: Path | None) -> ProfileError:
        return ProfileError(self.key, self.expected, self.got, path=path, problem=self.problem)


class Inconclusive(DrreadyError):
    """A test that could not reach a verdict: its precondition could not be established (the
    device not at rest or not in its own mode before the request, too little stored energy for
    the scenario, a clock that cannot be read), or an exchange failed in the middle of it.

    Neither a pass nor a fail: the requirement it tests is inconclusive unless another test
    fails it. ``cause``, when known, is the requirement whose failure made the test impossible
    ("BAT-2.6" for a device stuck in the previous DR, "*-1.1" for replies that never came).
    """

    def __init__(self, reason: str, *, cause: str | None = None) -> None:
        self.reason = reason
        self.cause = cause
        super().__init__(reason if cause is None else f"{reason} (caused by {cause})")


class NotExercised(DrreadyError):
    """A check that needs something the run does not have (an operator at a terminal to
    restart the device, in CI or with ``--no-operator``): the test is skipped, saying why, and
    never counts as a pass."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ExchangeError(Exception):
    """Mixed into each protocol's errors for an exchange that failed on the wire (no reply in
    time, connection lost, reply undecodable): raised in the middle of a test, it makes the test
    inconclusive, with ``*-1.1`` (communication) as the cause, never a fail of what the test
    was judging."""
