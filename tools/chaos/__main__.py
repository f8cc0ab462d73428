"""`python -m tools.chaos`: run the chaos soak (see soak.py)."""

import sys

from .soak import main

sys.exit(main())
