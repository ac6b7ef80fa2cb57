"""Compiling style networks for NVIDIA GPUs: TensorRT engines and torch-tensorrt.

One module per step, as in NVIDIA's samples: `profiles` (which shapes an engine
serves), `cache` (built once, reused, rebuilt when anything it depends on changes),
`tensorrt_build` (ONNX -> engine with the TensorRT Python API) and `torch_trt`
(torch-tensorrt's dynamo compile of the PyTorch model). Running an engine is the
TensorRT backend's job (`rtstyle.backends.tensorrt_runtime`).
"""

from .cache import EngineCache, EngineKey
from .profiles import Profile, profile_for

__all__ = ["EngineCache", "EngineKey", "Profile", "profile_for"]
