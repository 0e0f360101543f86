"""``python -m hack.trafficsim``: run the traffic simulator."""

from .app import main

raise SystemExit(main())
