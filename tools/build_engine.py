#!/usr/bin/env python3
"""Step 2 of the GPU path: a TensorRT engine from an ONNX file, cached by model, shapes, precision,
GPU and TensorRT version.

Same as `rtstyle build-engine`; see `rtstyle build-engine --help`.
    python tools/build_engine.py engines/starry/starry_dynamic_b1_fp16_op18.onnx --fp16 \\
        --out engines/starry/starry_fp16.engine
"""

import sys

from rtstyle.cli import main

if __name__ == "__main__":
    sys.exit(main(["build-engine", *sys.argv[1:]]))
