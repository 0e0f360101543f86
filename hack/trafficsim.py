"""Entry point: ``python hack/trafficsim.py --sd-dir DIR [...]`` runs the traffic simulator.

The code lives in the package ``hack/trafficsim/``; this file only makes it runnable by path.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from hack.trafficsim.app import main

    raise SystemExit(main())
