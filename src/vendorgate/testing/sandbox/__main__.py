"""``python -m vendorgate.testing.sandbox [flags]`` is ``vendorgate sandbox [flags]``."""

from __future__ import annotations

import sys

from vendorgate.cli import main

raise SystemExit(main(["sandbox", *sys.argv[1:]]))
