from __future__ import annotations

from aitrader.cli import main

raise SystemExit(main())
