#!/usr/bin/env python3
"""Step 1 of the GPU path: a style network to ONNX, checked against PyTorch.

Same as `rtstyle export`; see `rtstyle export --help`. Writes under engines/<style>/ by default.
    python tools/export_onnx.py --style starry --dynamic
"""

import sys

from rtstyle.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
