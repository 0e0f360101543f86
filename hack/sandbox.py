"""Entry point: ``hack/sandbox.py up | down | status [--name NAME]`` runs the sandbox (docs/sandbox.md).

The code lives in the package ``hack/sandbox/``; this file only makes it runnable by path.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from hack.sandbox.cli import main

    raise SystemExit(main())
