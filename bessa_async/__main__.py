"""``python -m bessa_async`` and the ``bessa`` command."""

from __future__ import annotations

import sys

from ._cli.app import main

if __name__ == "__main__":
    sys.exit(main())
