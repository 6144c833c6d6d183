"""``python -m drready.cli``: the same as the ``drready`` command."""

from __future__ import annotations

import sys

from drready.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
