"""`python -m bot run | demo | doctor`."""

import sys

from bot.cli import main

sys.exit(main())
