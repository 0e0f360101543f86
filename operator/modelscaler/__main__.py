import sys

from modelscaler.cli import main

sys.exit(main())
