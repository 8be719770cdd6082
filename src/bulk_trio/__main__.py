"""``python -m bulk_trio``: the same as the ``bulk-trio`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
