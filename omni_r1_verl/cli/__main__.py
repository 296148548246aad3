"""``python -m omni_r1_verl.cli`` is the same as the ``omni-r1`` console script."""

import sys

from omni_r1_verl.cli import main

sys.exit(main())
