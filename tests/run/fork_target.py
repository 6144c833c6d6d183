"""A command for the fork server's tests (run as ``python -m tests.run.fork_target ARGS``):
``echo TEXT`` writes TEXT to stdout and to stderr and exits 3; ``wait`` reads stdin until it
ends (the server gives /dev/null, so at once) and then blocks on a pipe nobody writes to;
``pgid`` prints its process group and its own process ID."""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if argv[0] == "echo":
        print(argv[1], flush=True)
        print(argv[1], file=sys.stderr, flush=True)
        return 3
    if argv[0] == "pgid":
        print(os.getpgid(0), os.getpid(), os.environ.get("FORK_TARGET", ""), repr(sys.stdin.read()))
        return 0
    if argv[0] == "wait":
        print("waiting", flush=True)
        read, _write = os.pipe()
        os.read(read, 1)  # until a signal ends it
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
