"""``python -m vendorgate`` runs the CLI."""

from vendorgate.cli import main

raise SystemExit(main())
