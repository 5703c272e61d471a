"""``python -m envcorr``: the same as the ``envcorr`` command."""

import sys

from .cli import main

sys.exit(main())
