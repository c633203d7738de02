"""`python -m bot run | demo | doctor | migrate-to-postgres`."""

import sys

from bot.cli import main

sys.exit(main())
