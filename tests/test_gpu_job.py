"""The GPU path fitted to the job (issue 26), tested on any machine: the shapes a job feeds the
network, the TensorRT profile chosen from them, the engine cache finding a wider engine, what
`--backend auto` picks and says, the CUDA-streams runner handing frames back as soon as the GPU
is done, CUDA graphs bounded per shape, AdaIN exported with constant kernels, and
`tools/gpu_check.sh` failing when it tested nothing (AdaIN's constant kernels: test_gpu_path). What needs a GPU is marked `cuda`."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections import deque

import numpy as np
import onnx
import pytest
import torch

from conftest import ROOT
from rtstyle.backends import Workload, auto_choice, create_backend
from rtstyle.backends.transform import stylize
from rtstyle.compile.cache import EngineCache, EngineKey
from rtstyle.compile.profiles import DEFAULT_MAX, DEFAULT_MIN, Profile, profile_covering
from rtstyle.backends.factory import LITE_INFER_SCALE, LITE_MIN_SIDE, load_backend
from rtstyle.errors import RtstyleError
from rtstyle.models import resolve_style
from rtstyle.models.formats import InputSpec

CUDA = torch.cuda.is_available()


def _called_with(backend, h: int, w: int, n: int = 1) -> tuple[int, ...]:
    """The NCHW shape `stylize` hands the network for n frames of h x w."""
    seen = []

    def run(x):
        seen.append((x.shape[0], 3, *x.shape[1:3]))
        return x

    stylize(np.zeros((n, h, w, 3), np.uint8), backend, run)
    return seen[0]


@pytest.mark.parametrize("setting", ["plain", "lite", "stroke", "fixed"])
@pytest.mark.parametrize("h, w, n", [(360, 640, 1), (1080, 1920, 4), (50, 70, 2)])
def test_network_shapes_are_what_the_network_is_called_with(network, fixed_onnx, setting, h, w, n):
    """The shapes a TensorRT profile is chosen from are the ones `stylize` really feeds: after
    --lite's half size, a preset's stroke size, padding to the stride, a fixed-size model's resize."""
    if setting == "fixed":
        b = create_backend(resolve_style(str(fixed_onnx)), "onnxruntime")
    else:
        b = create_backend(resolve_style("mosaic" if setting == "stroke" else str(network)), "torch")
        if setting == "lite":
            b.infer_scale, b.infer_min_side = LITE_INFER_SCALE, LITE_MIN_SIDE
        if setting == "stroke":
            b.network_long_side, b.stroke = resolve_style("mosaic").meta.stroke_long_side, 1.5
    shapes = b.network_shapes(Workload(((h, w),), batch=n))
    assert shapes == [_called_with(b, h, w, n)] + ([_called_with(b, h, w, 1)] if n > 1 else [])
    if setting == "lite" and (h, w) == (360, 640):
        assert shapes == [(1, 3, 180, 320)]  # what the old 256-line minimum profile refused


def test_a_varying_workload_spans_the_smallest_input_to_the_whole_frame(network):
    b = create_backend(resolve_style(str(network)), "torch")
    b.infer_scale = 0.5
    shapes = b.network_shapes(Workload(((360, 640),), batch=1, varying=True))
    profile = profile_covering(["N", 3, "H", "W"], shapes, b.stride)
    assert profile.opt == (1, 3, 180, 320)  # tuned for what runs now
    assert profile.covers((1, 3, 360, 640)) and profile.covers((1, 3, 8, 8)) and profile.covers((1, 3, 92, 160))


def test_profile_covering_the_job_and_the_models_fixed_dims():
    dynamic = ["batch", 3, "height", "width"]
    lite, full = (1, 3, 180, 320), (1, 3, 360, 640)
    p = profile_covering(dynamic, [lite, full])
    assert (p.min, p.opt, p.max) == (lite, lite, full)
    assert profile_covering(dynamic, [(4, 3, 48, 64)]).static  # one shape, --batch 4, small frames: all taken
    with pytest.raises(RtstyleError, match=r"fixed at 1x3xHxW: it cannot take 4 images per call \(--batch\)"):
        profile_covering([1, 3, "H", "W"], [(4, 3, 180, 320)])
    assert profile_covering([1, 3, 256, 256], [(1, 3, 256, 256)]).static


# --- the TensorRT runtime's choice of profile, without TensorRT -------------------------------------

def _runtime(dims, pinned=None, loaded=None, stride=4):
    """A TensorRT runtime as far as choosing a profile goes (no engine without a GPU)."""
    from rtstyle.backends.tensorrt_runtime import TensorRTRuntime

    runtime = TensorRTRuntime.__new__(TensorRTRuntime)
    runtime.spec, runtime.dims, runtime.pinned, runtime.profile = InputSpec(stride=stride), dims, pinned, loaded
    runtime._lock = threading.RLock()
    return runtime


def test_tensorrt_profile_comes_from_the_job_and_widens_only_when_not_pinned():
    dyn = ["N", 3, "H", "W"]
    job = [(2, 3, 180, 320)]
    assert _runtime(dyn).profile_for(job, for_job=True) == Profile(job[0], job[0], job[0])
    # a call without a job: the default range, widened to take it (batch 2, a small frame)
    default = _runtime(dyn).profile_for([(2, 3, 64, 96)], for_job=False)
    assert default.covers((2, 3, 64, 96)) and default.covers((2, 3, *DEFAULT_MAX[2:]))
    assert default.covers((2, 3, *DEFAULT_MIN[2:]))
    # a loaded engine is widened to take a new size, keeping what it took and its tuning
    loaded = Profile((1, 3, 180, 320), (1, 3, 180, 320), (1, 3, 180, 320))
    wider = _runtime(dyn, loaded=loaded).profile_for([(1, 3, 360, 640)], for_job=True)
    assert wider.opt == loaded.opt and wider.covers((1, 3, 360, 640)) and wider.covers(loaded.min)
    # a pinned profile (an engine built by build-engine) is kept, and a shape outside it is one line
    pinned = Profile((1, 3, 256, 256), (1, 3, 720, 1280), (1, 3, 1088, 1920))
    assert _runtime(dyn, pinned=pinned).profile_for([(1, 3, 360, 640)], for_job=True) == pinned
    with pytest.raises(RtstyleError, match=r"input 1x3x180x320 is outside the engine's profile .*build-engine"):
        _runtime(dyn, pinned=pinned).profile_for([(1, 3, 180, 320)], for_job=True)


def test_tensorrt_builds_and_runs_on_the_runtimes_own_device(monkeypatch):
    """`cuda:1` means GPU 1 for the engine's key, its build and its runs, not whichever is current."""
    from rtstyle.backends.tensor_runtime import TensorRuntime
    from rtstyle.compile.tensorrt_build import gpu_identity

    asked = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: asked.append(d) or (9, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: asked.append(d) or "GPU one")
    assert gpu_identity(torch.device("cuda", 1)) == ("GPU one", "9.0")
    assert asked == [torch.device("cuda", 1)] * 2
    current = []

    @contextlib.contextmanager
    def device(d):
        current.append(d)
        yield
        current.pop()

    monkeypatch.setattr(torch.cuda, "device", device)
    monkeypatch.setattr(TensorRuntime, "forward", lambda self, frames, inputs: list(current))
    runtime = _runtime(["N", 3, "H", "W"])
    runtime._device, runtime._ensure = torch.device("cuda", 1), lambda shapes, for_job: None
    assert runtime.forward(torch.zeros(1, 8, 8, 3, dtype=torch.uint8), {}) == [torch.device("cuda", 1)]


def _key(profile: Profile, **changes) -> EngineKey:
    fields = dict(model_sha256="ab" * 32, profile=profile, precision="fp16", gpu_name="NVIDIA H200",
                  compute_capability="9.0", tensorrt_version="10.4.0", recipe="rtstyle 1; fp16")
    return EngineKey(**{**fields, **changes})


def test_cache_finds_a_wider_engine_built_the_same_way(tmp_path):
    cache = EngineCache(tmp_path)
    wide = Profile((1, 3, 64, 64), (1, 3, 720, 1280), (1, 3, 1088, 1920))
    cache.put(_key(wide), b"engine")
    job = Profile((1, 3, 180, 320), (1, 3, 180, 320), (1, 3, 360, 640))
    found = cache.covering(_key(job))
    assert found and found[1] == wide and found[0].read_bytes() == b"engine"
    assert cache.covering(_key(job, recipe="rtstyle 2; fp16")) is None  # built another way
    assert cache.covering(_key(job, precision="fp32")) is None
    assert cache.covering(_key(Profile((1, 3, 32, 32), (1, 3, 32, 32), (1, 3, 32, 32)))) is None  # outside it
    (tmp_path / "junk.json").write_text("{not json")  # a damaged entry is passed over
    assert cache.covering(_key(job))[1] == wide
    narrow = Profile((1, 3, 180, 320), (1, 3, 360, 640), (1, 3, 720, 1280))
    cache.put(_key(narrow), b"narrow")
    assert cache.covering(_key(job))[1] == narrow  # of two that take it, the one needing less memory
    tuned = Profile((1, 3, 64, 64), (1, 3, 180, 320), (1, 3, 1088, 1920))
    cache.put(_key(tuned), b"tuned")
    assert cache.covering(_key(job))[1] == tuned  # ...unless one is tuned for the job's own shape


# --- --backend auto ------------------------------------------------------------------------------

def test_auto_says_why_not_tensorrt(monkeypatch):
    import rtstyle.backends.factory as backends

    monkeypatch.setattr(backends, "tensorrt_available", lambda: True)
    assert auto_choice(resolve_style("candy")) == ("tensorrt", "")
    name, why = auto_choice(resolve_style("adain"))
    assert name == "torch" and "style-image" in why


def test_auto_declines_tensorrt_for_one_image_no_cached_engine_takes(monkeypatch, rtstyle_log, network):
    """For one image, auto runs PyTorch rather than build an engine for a minute, and says so; the
    shapes it asks the cache about are those of the reduced size it runs at."""
    import rtstyle.backends.factory as factory

    asked = []

    def create(style, name, **kw):
        if name != "tensorrt":
            return factory.create_backend.__wrapped__(style, name, **kw)
        b = factory.create_backend.__wrapped__(style, "torch", **kw)
        b.runtime.has_engine_for = lambda shapes: asked.append(shapes) or cached
        return b

    create.__wrapped__ = factory.create_backend
    monkeypatch.setattr(factory, "create_backend", create)
    monkeypatch.setattr(factory, "auto_choice", lambda style: ("tensorrt", ""))
    job = Workload(((360, 640),), long=False)
    cached = False
    b = load_backend(str(network), "auto", infer_scale=0.5, workload=job)
    assert asked == [[(1, 3, 180, 320)]]
    assert "not TensorRT: no cached engine takes 1x3x180x320" in rtstyle_log.text
    assert not hasattr(b.runtime, "has_engine_for") and b.infer_scale == 0.5  # PyTorch, at the size asked
    cached = True
    kept = load_backend(str(network), "auto", infer_scale=0.5, workload=job)
    assert callable(getattr(kept.runtime, "has_engine_for", None))  # the "TensorRT" one was kept
    long_job = load_backend(str(network), "auto", workload=Workload(((360, 640),)))
    assert callable(getattr(long_job.runtime, "has_engine_for", None)) and len(asked) == 2  # a video: no question


def test_pipeline_prepares_the_backend_for_its_source(network, clip):
    """Every pipeline tells its backend the source's frame size before the first frame."""
    from rtstyle.pipeline import Pipeline
    from rtstyle.sources import VideoFileSource

    b = load_backend(str(network), "torch", lite=True)
    seen = []
    b.runtime.prepare = seen.append
    source = VideoFileSource(clip, height=360)
    try:
        pipeline = Pipeline.standard(source, b, sink=None, batch=2)
    finally:
        source.close()
    assert seen == [[(2, 3, 180, 320), (1, 3, 180, 320)]]  # 640x360 at --lite, two frames a call or one
    assert pipeline.inference.workload == Workload(((360, 640),), batch=2)


# --- the CUDA-streams runner -------------------------------------------------------------------

class _Event:
    def __init__(self, done=True, ms=0.0):
        self.done, self.ms = done, ms

    def query(self):
        return self.done

    def synchronize(self):
        self.done = True

    def elapsed_time(self, end):
        return end.ms - self.ms


def test_runner_returns_a_batch_as_soon_as_the_gpu_is_done():
    """`ready()` hands back what the GPU finished at once, in order, not `depth` batches later; a
    batch still running waits, and the network's GPU time (events) is what gets reported."""
    from rtstyle.frames import Frame
    from rtstyle.pipeline.cuda import CudaStreamRunner, _Slot

    runner = CudaStreamRunner.__new__(CudaStreamRunner)  # no streams without a GPU: the bookkeeping alone
    runner.depth, runner._collected, runner._device_ms = 2, [], []

    def batch(i, done, gpu_ms):
        slot = _Slot(host_out=torch.full((2, 4, 4, 3), i, dtype=torch.uint8), n=1,
                     started=_Event(ms=0.0), computed=_Event(ms=gpu_ms), done=_Event(done))
        return [Frame(i, np.zeros((4, 4, 3), np.uint8))], slot

    runner._in_flight = deque([batch(1, True, 3.0)])
    first = runner.ready()
    assert [f.index for f in first] == [1] and first[0].image.max() == 1  # the old runner kept it in flight
    assert runner.device_ms() == [3.0] and runner.device_ms() == []
    runner._in_flight = deque([batch(2, False, 1.0), batch(3, True, 1.0)])
    assert runner.ready() == []  # the oldest is still running: order is kept
    runner._in_flight[0][1].done.done = True
    assert [f.index for f in runner.ready()] == [2, 3]


def test_pipeline_hands_on_finished_frames_before_the_next_input():
    """A live camera's frame leaves as soon as the device is done with it, not when the next
    frame arrives: the pipeline polls a stage that has work in flight."""
    import time

    from rtstyle.frames import Frame
    from rtstyle.pipeline import Pipeline
    from rtstyle.pipeline.stages import Stage

    class Async(Stage):  # finishes each frame 50 ms after it was submitted, like a GPU
        name = "inference"

        def __init__(self):
            self.flight: list[tuple[float, Frame]] = []

        def process(self, frames):
            self.flight += [(time.monotonic(), f) for f in frames]
            return self.poll()

        def pending(self):
            return bool(self.flight)

        def poll(self):
            done = [f for t, f in self.flight if time.monotonic() - t > 0.05]
            self.flight = self.flight[len(done):]
            return done

        def flush(self):
            done, self.flight = [f for _, f in self.flight], []
            return done

    second = threading.Event()

    def camera():
        yield Frame(0, np.zeros((4, 4, 3), np.uint8))
        second.wait(2.0)  # the next frame comes only once the first has been shown (or after 2 s)
        yield Frame(1, np.zeros((4, 4, 3), np.uint8))

    shown = []

    class Window:
        def write(self, frame):
            shown.append((frame.index, second.is_set()))
            second.set()

        def close(self, truncated=False):
            pass

    t0 = time.monotonic()
    Pipeline(camera(), [Async()], Window(), policy="live").run()
    assert shown == [(0, False), (1, True)] and time.monotonic() - t0 < 1.5


def test_device_times_survive_a_style_switch(monkeypatch):
    """GPU times of frames the old model finished are reported, not dropped with its runner."""
    import rtstyle.pipeline.stages as stages
    from rtstyle.frames import Frame

    class Timed:  # a runner that reports 2 ms of device time per frame
        def __init__(self, model):
            self.done, self.ms = [], []

        def submit(self, frames):
            self.done += frames
            self.ms += [2.0] * len(frames)

        def ready(self):
            done, self.done = self.done, []
            return done

        drain = ready

        def pending(self):
            return False

        def device_ms(self):
            taken, self.ms = self.ms, []
            return taken

    monkeypatch.setattr(stages, "make_runner", Timed)
    stage = stages.Inference(lambda x: x)
    stage.process([Frame(0, np.zeros((4, 4, 3), np.uint8))])
    stage.set_model(lambda x: x)
    stage.process([Frame(1, np.zeros((4, 4, 3), np.uint8))])  # switches first
    assert stage.device_ms() == [2.0, 2.0] and stage.device_ms() == []


def test_image_workload_follows_exif_rotation(tmp_path):
    from PIL import Image

    from rtstyle.convert import image_workload

    exif = Image.Exif()
    exif[0x0112] = 6  # shot with the phone turned: shown 300 wide, 400 high
    Image.new("RGB", (400, 300)).save(tmp_path / "turned.jpg", exif=exif)
    Image.new("RGB", (400, 300)).save(tmp_path / "plain.jpg")
    assert image_workload(tmp_path / "turned.jpg").sizes == ((400, 300),)
    assert image_workload(tmp_path / "plain.jpg").sizes == ((300, 400),)
    assert image_workload(tmp_path / "missing.jpg") is None


# --- CUDA graphs ---------------------------------------------------------------------------------

def test_cuda_graphs_keep_the_last_few_shapes_and_free_the_rest():
    from rtstyle.backends.torch_runtime import CudaGraphs

    class Graph:
        def __init__(self):
            self.replays = self.resets = 0

        def replay(self):
            self.replays += 1

        def reset(self):
            self.resets += 1

    class Counted(CudaGraphs):  # capture without a GPU: the cache's bookkeeping alone
        def _capture(self, x):
            graph = Graph()
            captured.append(graph)
            return graph, x.clone(), x * 2

    captured: list[Graph] = []
    graphs = Counted(lambda x: x * 2)
    sizes = [(1, 3, 8 * k, 8) for k in range(1, Counted.MAX_SHAPES + 2)]
    for shape in sizes:
        graphs(torch.ones(shape))
    assert len(captured) == len(sizes) and captured[0].resets == 1  # the oldest shape was freed
    assert all(g.resets == 0 for g in captured[1:])
    graphs(torch.ones(sizes[-1]))
    assert len(captured) == len(sizes) and captured[-1].replays == 2  # a kept shape replays, no capture


# --- AdaIN: constant kernels in the export -------------------------------------------------------

def test_adain_blending_outputs_is_blending_weights():
    from rtstyle.models.adain import AdaINNet

    torch.manual_seed(0)
    net = AdaINNet(decoder_width=16, alpha0_decoder=True).eval()
    target = torch.rand(1, 512, 6, 5)
    for alpha in (0.0, 0.3, 1.0):
        a = torch.tensor([alpha])
        with torch.no_grad():
            expected, got = net.decode(target, a), net.for_onnx().decode(target, a)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert not net.blend_outputs  # the network itself is unchanged


# --- tools/gpu_check.sh --------------------------------------------------------------------------

@pytest.mark.parametrize("tests, skipped, status", [(5, 5, 1), (5, 2, 0)])
def test_gpu_check_fails_when_no_gpu_test_passed(tmp_path, tests, skipped, status):
    """A lent GPU's run where every test skipped (no fixtures, no TensorRT) is a failure, not a pass.
    A stand-in Python answers the GPU probe and writes pytest's report; the rest is the script's."""
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "MANIFEST.md").write_text("stand-in\n")
    fake = tmp_path / "python"
    fake.write_text(f"""#!/bin/sh
case "$*" in
  *"-m pytest"*) for a in "$@"; do [ "$prev" = --junitxml ] && xml="$a"; prev="$a"; done
     echo '<testsuites><testsuite tests="{tests}" failures="0" errors="0" skipped="{skipped}"/></testsuites>' > "$xml";;
  *"cuda.is_available() else 1"*) exit 0;;
  *"-m rtstyle bench"*) exit 0;;
  *) exec {sys.executable} "$@";;
esac
""")
    fake.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake), "RTSTYLE_FIXTURES": str(fixtures)}
    proc = subprocess.run(["bash", str(ROOT / "tools/gpu_check.sh"), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == status, proc.stderr
    assert f"{tests - skipped} GPU tests passed" in proc.stdout
    assert ("nothing was checked" in proc.stderr) == (status == 1)


# --- on a GPU --------------------------------------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
def test_runner_reports_gpu_time_and_reuses_pinned_buffers(network):
    from rtstyle.frames import Frame
    from rtstyle.pipeline.cuda import CudaStreamRunner

    b = create_backend(resolve_style(str(network)), "torch", device="cuda")
    runner = CudaStreamRunner(b)
    frames = [Frame(i, np.full((72, 128, 3), 100, np.uint8)) for i in range(7)]
    for batch in (frames[:4], frames[4:], frames[:4]):  # one batch in each of the three slots
        runner.submit(batch)
    first = runner.slots[0].host_in.data_ptr()
    done = runner.drain()
    runner.submit(frames[:2])  # back in slot 0, shorter: a view of the same pinned memory
    done += runner.drain()
    assert len(done) == 13 and all(0 < ms < 1000 for ms in runner.device_ms())
    assert runner.slots[0].host_in.data_ptr() == first and runner.slots[0].n == 2


# --- the presets (issue 8's networks) on the TensorRT path, as far as the builder ------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["starry", "blue_shards"])  # a style-vector preset, a multistyle26 one
def test_preset_exports_plan_an_fp16_engine_that_keeps_its_statistics_fp32(name, tmp_path, monkeypatch, rtstyle_log):
    """What `--backend tensorrt` builds from for a preset: its cached export (made whole and checked
    against PyTorch on two sizes and a batch, announced: it takes a while), whose normalisation
    statistics stay fp32 in an fp16 engine, and whose profile comes from the job like any network's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # per-preset exports stay out of the shared cache
    from rtstyle.backends import onnx_file
    from rtstyle.compile.profiles import onnx_input
    from rtstyle.compile.tensorrt_build import BuildPlan, layer_name

    style = resolve_style(name)
    path = onnx_file(style)
    assert onnx_file(style) == path  # made once
    said = [r.getMessage() for r in rtstyle_log.records if r.name == "rtstyle"]  # once, before and after
    assert len(said) == 2 and "one-time export" in said[0] and said[1].startswith("network ready in"), said
    _, dims = onnx_input(path)
    b = load_backend(name, "onnxruntime", lite=True)
    profile = profile_covering(dims, b.network_shapes(Workload(((360, 640),), batch=2)), style.input_spec.stride)
    plan = BuildPlan.from_onnx(path, profile, "fp16")
    ops = {layer_name(n): n.op_type for n in onnx.load(str(path)).graph.node}
    kept = {ops[n] for n in plan.fp32_layers}
    assert kept & {"InstanceNormalization", "ReduceMean"} and "Conv" not in kept
    assert profile.covers((2, 3, *b.network_shapes(Workload(((360, 640),)))[0][2:]))
