"""`python -m workshop` is the `workshop` command."""

import sys

from .cli import main

sys.exit(main())
