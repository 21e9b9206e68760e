"""``python -m agc_train``: the same as ``agc-train``."""

import sys

from agc_train.train import main

sys.exit(main())
