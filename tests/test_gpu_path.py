"""The GPU path, tested on any machine as far as it goes without one.

ONNX export (validity, dynamic shapes, fp16, sidecar, parity), optimisation
profiles, the engine cache's keys and invalidation, the TensorRT build plan, the
CUDA fast path's device-side conversions and options, `rtstyle bench`, and the
errors users get where TensorRT or CUDA is missing. Tests that need them are marked
`cuda` and skip with the reason.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from conftest import fixture, run_cli
from rtstyle.backends import create_backend, tensorrt_available
from rtstyle.backends.tensor_ops import from_network, to_network
from rtstyle.compile.cache import EngineCache, EngineKey
from rtstyle.compile.profiles import DEFAULT_MAX, DEFAULT_MIN, DEFAULT_OPT, Profile, parse_shape, profile_for
from rtstyle.compile.tensorrt_build import BuildPlan
from rtstyle.errors import RtstyleError
from rtstyle.images import read_image
from rtstyle.models import resolve_style
from rtstyle.models.export import ExportSpec, export_style
from rtstyle.models.formats import weights_hash

HAS_TRT = importlib.util.find_spec("tensorrt") is not None
CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
needs_trt = pytest.mark.skipif(not (HAS_TRT and CUDA), reason="needs TensorRT (pip install tensorrt) and a CUDA GPU")
CONTENT = ["images/content/amber.jpg", "images/content/golden_gate.jpg", "images/content/sailboat.jpg"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.PSNR(a, b))


@pytest.fixture(scope="module")
def dynamic_export(tmp_path_factory, network):
    out = tmp_path_factory.mktemp("export") / "mosaic8_dyn.onnx"
    proc = run_cli("export", "--style", network, "--dynamic", "-o", out, check=True)
    return out, proc.stdout


# --- export ---------------------------------------------------------------------------------

def test_static_export_is_valid_with_sidecar_and_parity(tmp_path, transformer_net, photo_file):
    out = tmp_path / "m.onnx"
    proc = run_cli("export", "--style", transformer_net, "--height", "120", "--width", "200", "-o", out,
                   check=True)
    assert "max |diff|" in proc.stdout and "1x3x120x200" in proc.stdout
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version >= 17
    assert "InstanceNormalization" in {n.op_type for n in model.graph.node}  # one node, for TensorRT
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 120, 200]
    side = json.loads(out.with_suffix(".json").read_text())
    exp = side["export"]
    assert exp["input"]["layout"] == "NCHW" and exp["input"]["range"] == "0-255" and exp["opset"] == 18
    assert exp["source_sha256_16"] == weights_hash(transformer_net)
    assert exp["max_abs_diff_vs_pytorch_fp32"]["1x3x120x200"] < 0.05
    # the export runs as a style of its own, on ONNX Runtime, and matches PyTorch
    photo = cv2.resize(read_image(photo_file), (200, 120), interpolation=cv2.INTER_AREA)
    via_onnx = create_backend(resolve_style(str(out)))
    assert via_onnx.name == "onnxruntime" and via_onnx.fixed_size == (120, 200)
    assert psnr(via_onnx(photo), create_backend(resolve_style(transformer_net), "torch")(photo)) > 45


@pytest.mark.parametrize("h,w,batch", [(256, 256, 1), (360, 640, 1), (132, 200, 2), (1080 // 4 * 4, 64, 1)])
def test_dynamic_export_runs_at_many_sizes(dynamic_export, h, w, batch, network):
    out, _ = dynamic_export
    model = resolve_style(network).build()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[0].shape
    assert not any(isinstance(d, int) for d in (shape[0], shape[2], shape[3])), shape
    x = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(h)) * 255
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.inference_mode():
        ref = model(x).numpy()
    assert got.shape == (batch, 3, h, w)
    assert np.abs(np.clip(got, 0, 255) - np.clip(ref, 0, 255)).max() < 0.05


def test_dynamic_export_reports_its_checks(dynamic_export):
    out, stdout = dynamic_export
    assert "onnx.checker: ok" in stdout
    diffs = json.loads(out.with_suffix(".json").read_text())["export"]["max_abs_diff_vs_pytorch_fp32"]
    assert len(diffs) >= 3 and max(diffs.values()) < 0.05  # several sizes were checked


def test_fp16_export_close_to_fp32(tmp_path, network, photo_file):
    style = resolve_style(network)
    info = export_style(style, tmp_path / "h.onnx", ExportSpec(height=256, width=256, fp16=True))
    assert info["export"]["input"]["dtype"] == "float16"
    model = onnx.load(str(tmp_path / "h.onnx"))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    photo = cv2.resize(read_image(photo_file), (256, 256), interpolation=cv2.INTER_AREA)
    half = create_backend(resolve_style(str(tmp_path / "h.onnx")))
    assert half.precision == "fp16"
    assert psnr(half(photo), create_backend(style, "torch")(photo)) >= 35


def test_default_export_path_is_under_engines(tmp_path, transformer_net):
    proc = run_cli("export", "--style", transformer_net, "--height", "64", "--width", "64", "--batch", "2",
                   cwd=tmp_path, check=True)
    made = tmp_path / "engines" / "net8"
    assert sorted(p.name for p in made.iterdir()) == ["net8_64x64_b2_fp32_op18.json", "net8_64x64_b2_fp32_op18.onnx"]
    assert "input [2, 3, 64, 64]" in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["--opset", "16"], "needs 17 or newer"),
    (["--height", "362"], "must be a multiple of 4"),
    (["--style", "no_such_style"], "unknown style"),
    (["--style", "ONNX"], "already an ONNX model"),
])
def test_export_errors_are_one_line(tmp_path, args, message, network, fixed_onnx):
    args = [str(fixed_onnx) if a == "ONNX" else a for a in args]
    proc = run_cli("export", *(["--style", str(network)] if "--style" not in args else []), *args,
                   "-o", tmp_path / "x.onnx")
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.onnx").exists()


# --- optimisation profiles ------------------------------------------------------------------

def test_parse_shape_forms_and_errors():
    assert parse_shape("720x1280") == (1, 3, 720, 1280)
    assert parse_shape("4x720x1280") == (4, 3, 720, 1280)
    assert parse_shape("2X3x64x96") == (2, 3, 64, 96)
    for bad in ("720", "1x1x64x64", "axb", "0x64", "1x3x64x64x2"):
        with pytest.raises(RtstyleError):
            parse_shape(bad)


def test_profile_for_dynamic_and_static_models():
    dyn = ["batch", 3, "4*height", "4*width"]
    assert profile_for(dyn) == Profile(DEFAULT_MIN, DEFAULT_OPT, DEFAULT_MAX)
    # an opt outside the default range widens it instead of failing
    wide = profile_for(dyn, opt_shape=(2, 3, 2160, 3840))
    assert wide.opt == (2, 3, 2160, 3840) and wide.max == (2, 3, 2160, 3840) and wide.min == DEFAULT_MIN
    small = profile_for(dyn, (1, 3, 64, 64), (1, 3, 128, 128), (4, 3, 256, 256))
    assert small.covers((2, 3, 100, 200)) and not small.covers((1, 3, 300, 64)) and not small.static
    static = profile_for([1, 3, 256, 256])
    assert static.static and static.opt == (1, 3, 256, 256)
    half = profile_for([1, 3, "h", "w"], opt_shape=(1, 3, 360, 640))
    assert half.min[0] == half.max[0] == 1


@pytest.mark.parametrize("kwargs,message", [
    ({"min_shape": (1, 3, 720, 1280), "max_shape": (1, 3, 360, 640)}, "min <= opt <= max"),
    ({"opt_shape": (1, 3, 362, 640)}, "multiples of 4"),
])
def test_profile_errors(kwargs, message):
    with pytest.raises(RtstyleError, match=message):
        profile_for(["batch", 3, "h", "w"], **kwargs)


def test_profile_must_respect_fixed_dims():
    with pytest.raises(RtstyleError, match="fixed at 1x3x256x256"):
        profile_for([1, 3, 256, 256], opt_shape=(1, 3, 512, 512))
    with pytest.raises(RtstyleError, match="channels"):
        profile_for([1, 4, 256, 256])


# --- engine cache ---------------------------------------------------------------------------

def _key(**change) -> EngineKey:
    base = EngineKey("ab" * 32, Profile(DEFAULT_MIN, DEFAULT_OPT, DEFAULT_MAX), "fp16", "NVIDIA H100 80GB HBM3",
                     "9.0", "10.3.0")
    return dataclasses.replace(base, **change)


def test_every_key_field_changes_the_engine():
    changes = {"model_sha256": "cd" * 32, "profile": Profile((1, 3, 64, 64), DEFAULT_OPT, DEFAULT_MAX),
               "precision": "fp32", "gpu_name": "NVIDIA H200", "compute_capability": "8.9",
               "tensorrt_version": "10.4.0", "builder": "torch-tensorrt", "recipe": "rtstyle 9; fp32"}
    digests = {_key().digest()} | {_key(**{k: v}).digest() for k, v in changes.items()}
    assert len(digests) == len(changes) + 1
    assert _key().digest() == _key().digest()  # stable across calls (and processes: sorted JSON)


def test_cache_builds_once_reuses_and_invalidates(tmp_path):
    cache = EngineCache(tmp_path)
    key = _key()
    assert cache.get(key) is None
    path = cache.put(key, b"engine-bytes")
    assert cache.get(key) == path and path.read_bytes() == b"engine-bytes"
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically
    assert cache.get(_key(tensorrt_version="10.4.0")) is None  # a new TensorRT: rebuild
    assert cache.get(_key(gpu_name="NVIDIA L4", compute_capability="8.9")) is None  # another GPU: rebuild
    # a key file that does not match its engine (edited, or half-written) is a miss, not a wrong engine
    side = path.with_suffix(".json")
    side.write_text(side.read_text().replace("10.3.0", "10.2.0"))
    assert cache.get(key) is None
    path.with_suffix(".json").unlink()
    assert cache.get(key) is None


def test_build_plan_keeps_instance_norm_in_fp32(dynamic_export):
    out, _ = dynamic_export
    profile = profile_for(["batch", 3, "h", "w"])
    fp16 = BuildPlan.from_onnx(out, profile, "fp16")
    norms = [n.name for n in onnx.load(str(out)).graph.node if n.op_type == "InstanceNormalization"]
    assert fp16.input_name == "input" and len(norms) >= 10 and fp16.fp32_layers == tuple(norms)
    assert BuildPlan.from_onnx(out, profile, "fp32").fp32_layers == ()
    with pytest.raises(RtstyleError, match="fp32 or fp16"):
        BuildPlan.from_onnx(out, profile, "int8")


# --- without TensorRT / CUDA: clear errors --------------------------------------------------

@pytest.mark.skipif(HAS_TRT and CUDA, reason="TensorRT and CUDA are both present here")
def test_build_engine_without_tensorrt_is_one_line_error(dynamic_export):
    out, _ = dynamic_export
    proc = run_cli("build-engine", out, "--fp16")
    assert proc.returncode == 1
    assert ("TensorRT is not installed" in proc.stderr or "no CUDA GPU" in proc.stderr), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_build_engine_checks_shapes_before_needing_a_gpu(dynamic_export, tmp_path):
    out, _ = dynamic_export
    proc = run_cli("build-engine", out, "--opt", "1x3x100x101")
    assert proc.returncode == 1 and "multiples of 4" in proc.stderr
    proc = run_cli("build-engine", tmp_path / "missing.onnx")
    assert proc.returncode == 1 and "no such file" in proc.stderr
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    proc = run_cli("build-engine", tmp_path / "junk.onnx")
    assert proc.returncode == 1 and "not a readable ONNX model" in proc.stderr


@pytest.mark.skipif(HAS_TRT and CUDA, reason="TensorRT and CUDA are both present here")
def test_tensorrt_backend_without_tensorrt_is_one_line_error(tmp_path, photo_file):
    proc = run_cli("image", photo_file, "-o", tmp_path / "x.png", "--backend", "tensorrt")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "TensorRT" in proc.stderr or "CUDA" in proc.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.skipif(CUDA, reason="a CUDA GPU is present here")
@pytest.mark.parametrize("args,message", [
    (["--precision", "fp16"], "needs a CUDA GPU"),
    (["--cuda-graphs"], "CUDA graphs need a CUDA GPU"),
    (["--backend", "onnxruntime", "--cuda-graphs"], "applies to the torch backend"),
    (["--backend", "onnxruntime", "--precision", "fp16"], "is an fp32 model"),
])
def test_gpu_options_on_a_cpu_machine(tmp_path, args, message, transformer_net, photo_file):
    proc = run_cli("image", photo_file, "-o", tmp_path / "x.png", "--style", transformer_net, *args)
    assert proc.returncode == 1 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_auto_backend_without_tensorrt_keeps_the_plain_choice(transformer_net, fixed_onnx):
    style = resolve_style(transformer_net)
    if tensorrt_available():
        pytest.skip("TensorRT and CUDA are present: auto picks TensorRT here")
    assert create_backend(style).name == "torch"
    assert create_backend(resolve_style(fixed_onnx)).name \
        == "onnxruntime"


# --- CUDA fast path pieces that run anywhere -------------------------------------------------

def test_device_side_conversions_round_trip_and_resize(photo_file):
    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.integers(0, 256, (2, 48, 64, 3), dtype=np.uint8))
    x = to_network(frames, torch.float32, 1 / 255)
    assert x.shape == (2, 3, 48, 64) and float(x.max()) <= 1.0
    assert torch.equal(from_network(x, 1 / 255), frames)  # exact round trip
    cl = to_network(frames, torch.float32, 1.0, channels_last=True)
    assert cl.is_contiguous(memory_format=torch.channels_last)
    photo = cv2.resize(read_image(photo_file), (640, 360), interpolation=cv2.INTER_AREA)
    small = from_network(to_network(torch.from_numpy(photo)[None], torch.float32, 1.0, size=(180, 320)), 1.0)[0]
    assert psnr(small.numpy(), cv2.resize(photo, (320, 180), interpolation=cv2.INTER_AREA)) > 30


@pytest.mark.slow
def test_channels_last_and_inductor_compile_match_eager(tmp_path, monkeypatch, transformer_net, photo_file):
    style = resolve_style(transformer_net)
    frame = cv2.resize(read_image(photo_file), (96, 64), interpolation=cv2.INTER_AREA)
    eager = create_backend(style, "torch")(frame)
    assert psnr(create_backend(style, "torch", channels_last=True)(frame), eager) > 45
    # torch.compile in its own process (bounded by a timeout), one compile thread on a small CI machine
    monkeypatch.setenv("TORCHINDUCTOR_COMPILE_THREADS", "1")
    cv2.imwrite(str(tmp_path / "in.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    proc = run_cli("image", tmp_path / "in.png", "-o", tmp_path / "out.png", "--style", transformer_net,
                   "--compile", "inductor", timeout=240, check=True)
    assert "on torch(" in proc.stderr
    assert psnr(read_image(tmp_path / "out.png"), eager) > 45


# --- rtstyle bench ---------------------------------------------------------------------------

@pytest.mark.slow
def test_bench_writes_json_and_table(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_cli("bench", "--net-width", "8", "--backends", "torch", "onnxruntime", "tensorrt", "--sizes", "64x48",
                   "96x64", "--runs", "2", "--warmup", "1", "--frames", "6", "--encode-threads", "1", "--json", out,
                   check=True)
    report = json.loads(out.read_text())
    ok = [r for r in report["results"] if r["error"] is None]
    assert {(r["backend"], r["size"]) for r in ok} >= {("torch", "64x48"), ("torch", "96x64"),
                                                        ("onnxruntime", "64x48"), ("onnxruntime", "96x64")}
    for r in ok:
        assert r["model_fps"] > 0 and r["e2e_fps"] > 0 and r["model_ms"]["total"] > 0
        assert r["e2e_stages_ms"]["inference"] > 0
    torch_row = next(r for r in ok if r["backend"] == "torch")
    assert {"upload", "preprocess", "network", "postprocess", "download"} <= set(torch_row["model_ms"])
    if not tensorrt_available():  # recorded as unavailable, not a crash
        trt_rows = [r for r in report["results"] if r["backend"] == "tensorrt"]
        assert trt_rows and all(r["error"] for r in trt_rows)
    assert report["encode"][0]["fps"] > 0 and report["machine"]["torch"] == torch.__version__
    assert "| untrained_w8 | torch | fp32 | 64x48 | 1 | cpu |" in proc.stdout


# --- on a GPU ---------------------------------------------------------------------------------

@pytest.mark.cuda
@needs_cuda
def test_cuda_fast_path_options_match_fp32_cpu(network):
    style = resolve_style(network)
    cpu = create_backend(style, "torch", device="cpu")
    for kwargs in ({}, {"cuda_graphs": True}, {"precision": "bf16"}):
        gpu = create_backend(style, "torch", device="cuda", **kwargs)
        for rel in CONTENT:
            photo = cv2.resize(read_image(fixture(rel)), (640, 360), interpolation=cv2.INTER_AREA)
            assert psnr(gpu(photo), cpu(photo)) >= (30 if kwargs.get("precision") == "bf16" else 35), kwargs


@pytest.mark.cuda
@needs_trt
def test_tensorrt_fp16_parity_with_fp32_pytorch(tmp_path, network):
    style = resolve_style(network)
    cache = EngineCache(tmp_path)
    trt_backend = create_backend(style, "tensorrt", precision="fp16", cache=cache,
                                 profile=Profile((1, 3, 256, 256), (1, 3, 360, 640), (1, 3, 720, 1280)))
    cpu = create_backend(style, "torch", device="cpu")
    for rel in CONTENT:
        photo = cv2.resize(read_image(fixture(rel)), (640, 360), interpolation=cv2.INTER_AREA)
        assert psnr(trt_backend(photo), cpu(photo)) >= 35
    again = create_backend(style, "tensorrt", precision="fp16", cache=cache, profile=trt_backend.runtime.profile)
    assert again.runtime.engine_path == trt_backend.runtime.engine_path  # reused, not rebuilt


# --- AdaIN: one engine for every style image ----------------------------------------------------

@pytest.fixture(scope="module")
def adain_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("adain") / "adain_dyn.onnx"
    run_cli("export", "--style", "adain", "--dynamic", "--height", "128", "--width", "128", "-o", out, check=True)
    return out


def test_adain_export_plans_an_engine_with_fixed_style_inputs(adain_export, tmp_path):
    from rtstyle.compile.profiles import onnx_input, onnx_inputs

    name, dims = onnx_input(adain_export)
    assert name == "input" and dims[1] == 3 and not isinstance(dims[2], int)
    assert onnx_inputs(adain_export)["style_mean"] == [1, 512, 1, 1]
    plan = BuildPlan.from_onnx(adain_export, profile_for(dims, stride=8), "fp16")
    graph = onnx.load(str(adain_export)).graph
    ops = {n.name: n.op_type for n in graph.node}
    kept = {ops[n] for n in plan.fp32_layers}
    assert {"ReduceMean", "Sqrt"} <= kept and "Conv" not in kept  # the statistics stay fp32, the convs go fp16
    # TensorRT's parser takes constant convolution weights only: none may be computed from alpha
    constants = {t.name for t in graph.initializer} | {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert len(convs) > 20 and all(n.input[1] in constants for n in convs)
    # build-engine reads the stride (8) from the export's sidecar: 4-aligned shapes are refused
    proc = run_cli("build-engine", adain_export, "--min", "1x3x260x260")
    assert proc.returncode == 1 and "multiples of 8" in proc.stderr and proc.stderr.count("\n") == 1
    proc = run_cli("build-engine", adain_export, "--via", "torch-tensorrt")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_an_image_input_must_be_identifiable(tmp_path):
    from onnx import TensorProto, helper

    from rtstyle.compile.profiles import onnx_input

    def two_inputs(second: str, dims: list) -> Path:
        graph = helper.make_graph(
            [helper.make_node("Add", ["a", second], ["y"])], "g",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3, "h", "w"]),
             helper.make_tensor_value_info(second, TensorProto.FLOAT, dims)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, "h", "w"])])
        path = tmp_path / f"{second}.onnx"
        onnx.save(helper.make_model(graph), str(path))
        return path

    with pytest.raises(RtstyleError, match="none named 'input'"):
        onnx_input(two_inputs("b", [1, 3, 1, 1]))


@pytest.mark.cuda
@needs_trt
def test_tensorrt_adain_matches_pytorch_for_two_styles(tmp_path, photo_file):
    style = resolve_style("adain")
    engine = create_backend(style, "tensorrt", precision="fp16", cache=EngineCache(tmp_path),
                            profile=Profile((1, 3, 256, 256), (1, 3, 360, 640), (1, 3, 720, 1280)))
    cpu = create_backend(style, "torch", device="cpu")
    photo = cv2.resize(read_image(photo_file), (640, 360), interpolation=cv2.INTER_AREA)
    outs = []
    for rel in ("images/style/candy.jpg", "images/style/udnie.jpg"):
        image = read_image(fixture(rel))
        out = engine.with_style([image], alpha=0.8)(photo)
        assert psnr(out, cpu.with_style([image], alpha=0.8)(photo)) >= 30
        outs.append(out)
    assert psnr(outs[0], outs[1]) < 25  # the style inputs reached the engine


def _trainer_args(tmp_path: Path, content: Path, painting: Path) -> dict[str, list]:
    styles = tmp_path / "styles"
    styles.mkdir()
    (styles / "udnie.png").write_bytes(painting.read_bytes())
    return {
        "train": ["train", "--style-image", styles / "udnie.png", "--content", content, "--name", "tiny",
                  "--out", tmp_path / "t", "--channels", "4", "--size", "64", "--style-size", "96", "-q"],
        "train-adain": ["train-adain", "--content", content, "--styles", styles, "--name", "tiny_adain",
                        "--out", tmp_path / "t", "--decoder-width", "16", "--size", "32", "--batch", "2", "-q"],
    }


@pytest.mark.skipif(CUDA, reason="a CUDA GPU is present here")
def test_training_on_cuda_without_a_gpu_is_one_line(tmp_path, content_dir, painting_files):
    for command, args in _trainer_args(tmp_path, content_dir, painting_files[1]).items():
        proc = run_cli(*args, "--iters", "1", "--device", "cuda")
        assert proc.returncode == 1, (command, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "sees no CUDA GPU" in lines[0], (command, proc.stderr)


@pytest.mark.cuda
@needs_cuda
def test_trainers_run_on_cuda_and_resume_on_cpu(tmp_path, content_dir, photo_file, painting_files):
    photo = read_image(photo_file)[:128, :128]
    for command, args in _trainer_args(tmp_path, content_dir, painting_files[1]).items():
        run_cli(*args, "--iters", "2", "--device", "cuda", check=True)
        run_cli(*args, "--iters", "3", "--device", "cpu", check=True)  # the checkpoint is device-neutral
        name = args[args.index("--name") + 1]
        assert torch.load(tmp_path / "t" / f"{name}.ckpt.pt", weights_only=True)["iteration"] == 3
        style = resolve_style(str(tmp_path / "t" / f"{name}.safetensors"))
        gpu, cpu = (create_backend(style, "torch", device=d, precision="fp32") for d in ("cuda", "cpu"))
        if command == "train-adain":
            gpu, cpu = (b.with_style([read_image(painting_files[1])]) for b in (gpu, cpu))
        out = gpu(photo)
        assert out.shape == photo.shape and out.std() > 1  # not a constant image
        assert psnr(out, cpu(photo)) > 35  # the same weights, device for device


def test_fp32_keep_list_names_unnamed_nodes_as_tensorrt_does(tmp_path):
    """An unnamed node is kept by the name TensorRT's parser gives its layer ("node_of_" + its first
    output), never as "": a prefix of every name, which pinned every layer to fp32."""
    from onnx import TensorProto, helper

    from rtstyle.compile.tensorrt_build import made_from

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, "h", "w"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, "h", "w"])
    scale = helper.make_tensor("s", TensorProto.FLOAT, [3], [1.0] * 3)
    bias = helper.make_tensor("b", TensorProto.FLOAT, [3], [0.0] * 3)
    nodes = [helper.make_node("InstanceNormalization", ["input", "s", "b"], ["normed"]),  # unnamed
             helper.make_node("Relu", ["normed"], ["r"], name="relu"),
             helper.make_node("Div", ["r", "r"], ["output"], name="Div")]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [scale, bias]),
                              opset_imports=[helper.make_opsetid("", 18)])
    path = tmp_path / "unnamed.onnx"
    onnx.save(model, str(path))
    plan = BuildPlan.from_onnx(path, profile_for(["batch", 3, "h", "w"]), "fp16")
    assert plan.fp32_layers == ("node_of_normed", "Div")
    assert made_from("Div", "Div") and made_from("Div_2", "Div") and not made_from("Division", "Div")
    assert not made_from("relu", "node_of_normed") and not any(made_from("relu", n) for n in plan.fp32_layers)


def test_engine_key_changes_with_the_build_recipe(dynamic_export):
    """Engines built by another recipe (layers kept fp32, flags, workspace, rtstyle's version) are
    not reused: the recipe is part of the key."""
    from dataclasses import replace

    from rtstyle import __version__

    out, _ = dynamic_export
    profile = profile_for(["batch", 3, "h", "w"])
    fp16 = BuildPlan.from_onnx(out, profile, "fp16")
    fewer = replace(fp16, fp32_layers=fp16.fp32_layers[1:])
    assert __version__ in fp16.recipe() and fp16.recipe() != fewer.recipe()
    assert fp16.recipe() != BuildPlan.from_onnx(out, profile, "fp32").recipe()
    assert _key(recipe=fp16.recipe()).digest() != _key(recipe=fewer.recipe()).digest()


def test_a_shape_tensorrt_refuses_is_one_line_not_a_silent_run():
    """TensorRT 10's set_input_shape returns False for a shape it cannot take; that stops the run."""
    from rtstyle.backends.tensorrt_runtime import TensorRTRuntime

    class Context:  # the one call under test, answering as TensorRT 10 does for a refused shape
        def set_input_shape(self, name, shape):
            return False

    runtime = TensorRTRuntime.__new__(TensorRTRuntime)  # no engine without a GPU: the check alone
    runtime.context, runtime.input_name = Context(), "input"
    runtime.profile = Profile(DEFAULT_MIN, DEFAULT_OPT, DEFAULT_MAX)
    with pytest.raises(RtstyleError, match="TensorRT refused input 1x3x64x64 for 'input'"):
        runtime._set_shape((1, 3, 64, 64))
