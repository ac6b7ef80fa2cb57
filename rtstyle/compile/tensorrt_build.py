"""ONNX -> TensorRT engine with the TensorRT Python API (TensorRT 10).

    plan = BuildPlan.from_onnx(path, profile, precision)   # CPU: what to build
    engine = engine_for(plan, EngineCache())                # GPU: cached, or built now

The plan is everything decided before TensorRT is touched (input, profile, which
layers must stay fp32), so it is tested on machines without a GPU. FP16 engines
keep instance normalisation accurate: the parser's native InstanceNormalization
(not the plugin) and those layers pinned to fp32, so each plane's mean and variance
(sums over up to two million pixels at 1080p) are accumulated at full precision.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import onnx

from .. import __version__
from ..errors import RtstyleError
from ..models.formats import file_sha256
from .cache import EngineCache, EngineKey
from .profiles import Profile, onnx_input

log = logging.getLogger("rtstyle")
WORKSPACE_BYTES = 4 << 30
# ONNX ops whose TensorRT layers stay fp32 in fp16 engines: normalisation, and the reductions
# behind AdaIN's statistics (squared relu4_1 activations overflow fp16's 65504)
FP32_OPS = ("InstanceNormalization", "ReduceMean", "Pow", "Sqrt", "Div")


def require_tensorrt():
    """The `tensorrt` module on a machine with a CUDA GPU, or a one-line error saying what is missing."""
    try:
        import tensorrt
    except ImportError:
        raise RtstyleError("TensorRT is not installed (pip install tensorrt, on a machine with an NVIDIA GPU "
                           "and driver; or use --backend torch for the CUDA fast path)") from None
    gpu_identity()  # TensorRT without a GPU cannot build or run anything
    return tensorrt


def gpu_identity(device=None) -> tuple[str, str]:
    """(GPU name, compute capability) of `device` (default: the current CUDA device): part of every
    engine's key."""
    import torch

    if not torch.cuda.is_available():
        raise RtstyleError("no CUDA GPU available: TensorRT engines are built and run on an NVIDIA GPU")
    major, minor = torch.cuda.get_device_capability(device)
    return torch.cuda.get_device_name(device), f"{major}.{minor}"


@dataclass(frozen=True)
class BuildPlan:
    onnx_path: Path
    input_name: str
    profile: Profile
    precision: str
    fp32_layers: tuple[str, ...]  # ONNX node names kept in fp32

    @classmethod
    def from_onnx(cls, path: Path, profile: Profile, precision: str) -> "BuildPlan":
        if precision not in ("fp32", "fp16"):
            raise RtstyleError(f"TensorRT precision {precision!r}: choose fp32 or fp16")
        name, _ = onnx_input(path)
        graph = onnx.load(str(path), load_external_data=False).graph
        keep = tuple(layer_name(n) for n in graph.node if n.op_type in FP32_OPS) if precision == "fp16" else ()
        return cls(Path(path), name, profile, precision, tuple(n for n in keep if n))

    def recipe(self) -> str:
        """What besides the model and the GPU decides the engine: a changed recipe rebuilds it."""
        kept = hashlib.sha256("\n".join(sorted(self.fp32_layers)).encode()).hexdigest()[:16]
        flags = "fp16+obey-precision" if self.precision == "fp16" else "fp32"
        return (f"rtstyle {__version__}; {flags}; native instancenorm; workspace {WORKSPACE_BYTES >> 20} MiB; "
                f"{len(self.fp32_layers)} layers kept fp32 ({kept})")

    def key(self, device=None, builder: str = "tensorrt") -> EngineKey:
        """The cache key of the engine this plan makes on `device` (default: the current one)."""
        trt = require_tensorrt()
        gpu, cc = gpu_identity(device)
        return EngineKey(file_sha256(self.onnx_path), self.profile, self.precision, gpu, cc, trt.__version__,
                         builder, self.recipe())


def layer_name(node: onnx.NodeProto) -> str:
    """The name TensorRT's ONNX parser gives the layer of `node`: its name, or for an unnamed node
    "node_of_" and its first output (onnx-tensorrt's getNodeName); "" if it has neither."""
    return node.name or (f"node_of_{node.output[0]}" if node.output else "")


def made_from(layer: str, node: str) -> bool:
    """Whether TensorRT layer `layer` came from ONNX node `node`: its name, or that name with the
    "_N" the parser appends to further layers of one node."""
    return layer == node or (layer.startswith(node + "_") and layer[len(node) + 1:].isdigit())


def build_serialized(plan: BuildPlan, timing_cache: Path | None = None) -> bytes:
    """Parse the ONNX file, apply the plan, build; returns the serialized engine."""
    trt = require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    parser.set_flag(trt.OnnxParserFlag.NATIVE_INSTANCENORM)
    if not parser.parse_from_file(str(plan.onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RtstyleError(f"{plan.onnx_path}: TensorRT cannot parse it: {errors.splitlines()[0] if errors else '?'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if plan.precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        _pin_fp32(trt, network, plan.fp32_layers)
    profile = builder.create_optimization_profile()
    profile.set_shape(plan.input_name, plan.profile.min, plan.profile.opt, plan.profile.max)
    config.add_optimization_profile(profile)
    cache_blob = timing_cache.read_bytes() if timing_cache and timing_cache.is_file() else b""
    cache = config.create_timing_cache(cache_blob)
    config.set_timing_cache(cache, ignore_mismatch=True)  # another GPU's timings are ignored, not fatal
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise RtstyleError(f"{plan.onnx_path}: TensorRT could not build an engine (see its messages above)")
    if timing_cache:
        timing_cache.parent.mkdir(parents=True, exist_ok=True)
        timing_cache.write_bytes(memoryview(config.get_timing_cache().serialize()))
    return bytes(memoryview(engine))


def _pin_fp32(trt, network, onnx_names: tuple[str, ...]) -> None:
    """Keep the layers made from `onnx_names` (and any normalisation layer) in fp32."""
    wanted = set(onnx_names)
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.type == trt.LayerType.NORMALIZATION or any(made_from(layer.name, n) for n in wanted):
            layer.precision = trt.float32
            for j in range(layer.num_outputs):
                layer.set_output_type(j, trt.float32)


def engine_for(plan: BuildPlan, cache: EngineCache, rebuild: bool = False, device=None) -> tuple[Path, bool]:
    """The cached engine for `plan` on `device` (default: the current one; TensorRT builds on the
    current device, so callers make it current), built first if missing (or `rebuild`); (path, built now)."""
    key = plan.key(device)
    found = None if rebuild else cache.get(key)
    if found:
        return found, False
    log.info(f"building a TensorRT engine for {plan.onnx_path.name} ({plan.precision}, input shapes "
             f"{plan.profile}); this takes a minute or more, once")
    t0 = time.perf_counter()
    blob = build_serialized(plan, cache.timing_cache)
    path = cache.put(key, blob)
    log.info(f"engine built in {time.perf_counter() - t0:.0f} s: {path}")
    return path, True
