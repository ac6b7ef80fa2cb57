"""torch-tensorrt's dynamo path: the PyTorch model compiled to TensorRT without an ONNX file.

Used two ways with the same options, so both share torch-tensorrt's own engine cache
(keyed by graph, input shapes and settings, in our cache folder):
`rtstyle build-engine --via torch-tensorrt` compiles ahead of time, and
`--backend torch --compile tensorrt` compiles on first use (a cache hit after a build).
"""

from __future__ import annotations

from ..errors import RtstyleError
from ..paths import cache_dir
from ..capabilities import torch_dtype
from .profiles import Profile
from .tensorrt_build import gpu_identity


def require_torch_tensorrt():
    try:
        import torch_tensorrt
    except ImportError:
        raise RtstyleError("torch-tensorrt is not installed (pip install 'rtstyle[trt]' with a CUDA build of "
                           "torch; or use --backend torch without --compile tensorrt)") from None
    gpu_identity()
    return torch_tensorrt


def compile_options(precision: str) -> dict:
    cache = cache_dir("engines") / "torch-tensorrt"
    return {
        "enabled_precisions": {torch_dtype(precision)},
        "cache_built_engines": True,
        "reuse_cached_engines": True,
        "engine_cache_dir": str(cache),
        "timing_cache_path": str(cache / "timing.cache"),
        "min_block_size": 1,
    }


def compile_style(model, profile: Profile, precision: str):
    """Ahead-of-time compile of `model` (on the GPU, in `precision`) for the shapes of `profile`."""
    torch_tensorrt = require_torch_tensorrt()
    dtype = torch_dtype(precision)
    spec = torch_tensorrt.Input(min_shape=profile.min, opt_shape=profile.opt, max_shape=profile.max, dtype=dtype)
    return torch_tensorrt.compile(model.to("cuda", dtype).eval(), ir="dynamo", inputs=[spec],
                                  **compile_options(precision))
