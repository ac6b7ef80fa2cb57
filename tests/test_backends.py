"""Backends: the same frames through PyTorch and ONNX Runtime, padding, fixed-size models."""

from __future__ import annotations

import re

import cv2
import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import MOSAIC8, NC8, NC16, fixture
from rtstyle.backends import create_backend
from rtstyle.backends.transform import MIN_SIDE, pad_to_multiple
from rtstyle.errors import RtstyleError
from rtstyle.images import read_image
from rtstyle.models import resolve_style
from rtstyle.models.transformer_net import TransformerNet
from rtstyle.models.export import export_onnx

# Parity tolerance on the 0..255 scale, per precision (kornia-style per-dtype tolerances).
TOL = {"fp32": 2, "fp16": 4}

PAIRS = [
    (f"{NC16}/candy_nc16_b1_e2_1e05_1e10.model", "onnx/fast_neural_style_nc16/candy_nc16_256x256_onnxjs013.onnx"),
    (f"{NC16}/mosaic_nc16_b1_e2_1e05_1e10.model", "onnx/fast_neural_style_nc16/mosaic_nc16_256x256_onnxjs013.onnx"),
    (MOSAIC8, "onnx/fast_neural_style_nc8/mosaic_nc8_256x256.onnx"),
    (f"{NC8}/candy_nc8_b1_e2_1e05_1e10.model", None),
    (f"{NC8}/rain-princess_nc8_b1_e2_1e05_1e10.model", None),
    (f"{NC8}/udnie_nc8_b1_e2_1e05_1e10.model", None),
]


@pytest.fixture(scope="module")
def photo256(photo_file) -> np.ndarray:
    img = read_image(photo_file)
    return cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA)


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


@pytest.mark.parametrize("model_rel,onnx_rel", PAIRS, ids=[p[0].split("/")[-1].split("_b1")[0] for p in PAIRS])
def test_fixture_checkpoint_parity(model_rel, onnx_rel, photo256):
    style = resolve_style(fixture(model_rel))
    torch_out = create_backend(style, "torch")(photo256)
    ort_out = create_backend(style, "onnxruntime")(photo256)
    assert torch_out.shape == photo256.shape and torch_out.dtype == np.uint8
    assert max_diff(torch_out, ort_out) <= TOL["fp32"]
    assert max_diff(torch_out, photo256) > 60 and torch_out.std() > 20  # it did stylize
    if onnx_rel:
        upstream = create_backend(resolve_style(fixture(onnx_rel)))
        assert upstream.name == "onnxruntime" and upstream.fixed_size == (256, 256)
        assert max_diff(torch_out, upstream(photo256)) <= TOL["fp32"]


@pytest.mark.parametrize("h,w", [(256, 256), (360, 640), (132, 200)])
def test_own_export_dynamic_shapes_match_pytorch(tmp_path_factory, h, w):
    path = tmp_path_factory.getbasetemp() / "dyn.onnx"
    torch.manual_seed(0)
    model = TransformerNet(8, 2).eval()
    if not path.exists():
        export_onnx(model, path, dynamic=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    dims = session.get_inputs()[0].shape
    assert not isinstance(dims[2], int) and not isinstance(dims[3], int), dims
    x = torch.rand(2, 3, h, w) * 255
    out = session.run(None, {"input": x.numpy()})[0]
    ref = model(x).detach().numpy()
    assert out.shape == (2, 3, h, w)
    assert np.abs(out - ref).max() < 0.05


@pytest.mark.parametrize("shape", [(1, 1, 1, 3), (2, 5, 7, 3), (1, 361, 641, 3), (1, 8, 12, 3)])
def test_padding_to_stride(shape):
    x = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    p = pad_to_multiple(x, 4)
    assert p.shape[1] % 4 == 0 and p.shape[2] % 4 == 0 and min(p.shape[1:3]) >= MIN_SIDE
    np.testing.assert_array_equal(p[:, : shape[1], : shape[2]], x)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
@pytest.mark.parametrize("size", [(1, 1), (5, 7), (361, 203)])
def test_any_frame_size(backend, size, network):
    b = create_backend(resolve_style(str(network)), backend)
    frame = np.random.default_rng(1).integers(0, 255, (*size, 3), dtype=np.uint8)
    out = b(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8


def test_batch_equals_single_frames(photo256, network):
    b = create_backend(resolve_style(str(network)), "torch")
    batch = np.stack([photo256, photo256[::-1].copy(), photo256[:, ::-1].copy()])
    together = b(batch)
    for i in range(3):
        assert max_diff(together[i], b(batch[i])) <= 1


def test_backend_properties_and_choice(transformer_net, fixed_onnx):
    torch_style = resolve_style(str(transformer_net))
    onnx_style = resolve_style(str(fixed_onnx))
    auto = create_backend(torch_style)
    assert auto.name == "torch" and auto.device == "cpu" and auto.precision == "fp32"
    assert create_backend(onnx_style).name == "onnxruntime"
    with pytest.raises(RtstyleError, match="ONNX model"):
        create_backend(onnx_style, "torch")
    with pytest.raises(RtstyleError, match="unknown backend"):
        create_backend(torch_style, "tensorflow")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fp16_close_to_cpu(photo256, network):
    style = resolve_style(str(network))
    gpu = create_backend(style, "torch", device="cuda")
    assert gpu.precision == "fp16"
    assert max_diff(gpu(photo256), create_backend(style, "torch", device="cpu")(photo256)) <= TOL["fp16"] * 4


def chroma_and_luma_change(out: np.ndarray, content: np.ndarray) -> tuple[float, float]:
    """Mean |Cr, Cb| difference over unclipped pixels, and mean |Y| difference."""
    ycc_out, ycc_in = (cv2.cvtColor(a, cv2.COLOR_RGB2YCrCb).astype(int) for a in (out, content))
    unclipped = ((out > 0) & (out < 255)).all(-1)
    return (float(np.abs(ycc_out[..., 1:] - ycc_in[..., 1:])[unclipped].mean()),
            float(np.abs(ycc_out[..., 0] - ycc_in[..., 0]).mean()))


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_preserve_color_with_a_per_style_network(photo256, backend, network, fixed_onnx):
    """Luminance-only transfer works for any network, fixed-size ONNX models included (the chroma
    goes back on at the frame's own size)."""
    net = create_backend(resolve_style(str(network if backend == "torch" else fixed_onnx)), backend)
    frame = cv2.resize(photo256, (200, 120), interpolation=cv2.INTER_AREA)  # not the ONNX model's 256x256
    plain = net(frame)
    net.preserve_color = True
    kept = net(frame)
    chroma, luma = chroma_and_luma_change(kept, frame)
    assert chroma < 1.0 and luma > 5  # the frame's colours, the style's texture
    assert chroma_and_luma_change(plain, frame)[0] > 5 * max(chroma, 0.5)  # without it the colours do change
    if backend == "torch":  # the device path (the CUDA runner's) agrees with the host path
        on_device = net.forward(torch.from_numpy(frame[None])).numpy()[0]
        assert max_diff(on_device, kept) <= 1


def test_strength_mixes_a_per_style_network_with_the_frame(tmp_path, photo_file):
    """--strength (alias --alpha) on a per-style network: that much of its output over the frame;
    out of 0..1, or --style-weights (several --style-image only), is one line."""
    from conftest import run_cli

    photo = photo_file
    outs = {}
    for flag, value in (("--strength", "0"), ("--alpha", "0.5"), ("--strength", "1")):
        outs[value] = tmp_path / f"s{value}.png"
        run_cli("image", photo, "-o", outs[value], "--height", "96", flag, value, check=True)
    none, half, full = (read_image(outs[v]).astype(int) for v in ("0", "0.5", "1"))
    assert np.abs(none - full).mean() > 20  # stylized at 1; the frame itself at 0
    assert np.abs(half - (none + full) / 2).max() <= 1  # a pixel mix, rounded
    for args, message in ((["--strength", "1.5"], "--strength must be between 0 and 1"),
                          (["--style-weights", "1"], "--style-weights applies to several --style-image")):
        proc = run_cli("image", photo, "-o", tmp_path / "x.png", *args)
        status = 2 if "must be between" in message else 1  # out of range: bad usage
        assert proc.returncode == status and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()
    out = tmp_path / "kept.png"
    run_cli("image", photo, "-o", out, "--preserve-color", "--height", "96", check=True)
    content = cv2.resize(read_image(photo), read_image(out).shape[1::-1],
                         interpolation=cv2.INTER_AREA)
    assert chroma_and_luma_change(read_image(out), content)[0] < 2.0


def test_detail_upsample_restores_what_downscaling_lost(photo_file):
    """With an identity "network", the frame's own detail brings the frame back far better
    than upsampling alone (only the chroma detail stays lost)."""
    from rtstyle.backends.upsample import detail_upsample

    frame = torch.from_numpy(read_image(photo_file)[None])  # 640x360
    small = torch.from_numpy(cv2.resize(frame[0].numpy(), (320, 180), interpolation=cv2.INTER_AREA)[None])
    restored = detail_upsample(frame, small, small)[0].numpy()
    bicubic = cv2.resize(small[0].numpy(), (640, 360), interpolation=cv2.INTER_CUBIC)
    assert cv2.PSNR(restored, frame[0].numpy()) > cv2.PSNR(bicubic, frame[0].numpy()) + 3


@pytest.mark.parametrize("h, w", [(120, 200), (118, 203)])
def test_reduced_size_is_the_same_on_numpy_and_torch_frames(h, w):
    """The CPU path (numpy, OpenCV) and the tensor path (torch, any device) downscale, run and
    restore detail alike: within one level where the size halves evenly; elsewhere OpenCV's
    area filter weighs partial pixels, torch's does not, a small difference on average."""
    from rtstyle.backends.upsample import at_reduced_size

    def darken(small):  # any "network" that changes the picture
        return small // 2

    noise = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    frame = cv2.GaussianBlur(noise, (0, 0), 3)[None]
    on_numpy = at_reduced_size(frame, 0.5, 4, darken)
    on_torch = at_reduced_size(torch.from_numpy(frame), 0.5, 4, darken).numpy()
    assert on_numpy.shape == frame.shape and on_numpy.dtype == np.uint8 and max_diff(on_numpy, frame) > 40
    diff = np.abs(on_numpy.astype(int) - on_torch)
    assert diff.max() <= 1 if (h, w) == (120, 200) else diff.mean() < 1.0


def test_infer_scale_runs_the_network_smaller_on_both_paths(photo256, network):
    net = create_backend(resolve_style(str(network)), "torch")
    seen = []
    run = net._run
    net._run = lambda batch: seen.append(batch.shape) or run(batch)
    frame = cv2.resize(photo256, (200, 120), interpolation=cv2.INTER_AREA)
    full = net(frame)
    net.infer_scale = 0.5
    half = net(frame)
    assert seen == [(1, 120, 200, 3), (1, 60, 100, 3)] and half.shape == frame.shape
    assert 0 < max_diff(half, full)
    on_device = net.forward(torch.from_numpy(frame[None])).numpy()[0]  # the CUDA runner's path
    assert max_diff(on_device, half) == 0
    assert "infer-scale 0.5" in repr(net)


def test_infer_scale_cli(tmp_path, photo_file, fixed_onnx):
    from conftest import run_cli

    photo = photo_file
    out = tmp_path / "half.png"
    run_cli("image", photo, "-o", out, "--height", "120", "--infer-scale", "0.5", check=True)
    assert read_image(out).shape[0] == 120
    for args, message in ((["--infer-scale", "0.1"], "between 0.25 and 1"),
                          (["--style", fixed_onnx, "--infer-scale", "0.5"], "fixed 256x256")):
        proc = run_cli("image", photo, "-o", tmp_path / "x.png", *args)
        status = 2 if "between" in message else 1  # out of range: bad usage
        assert proc.returncode == status and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("backend,precision,options,message", [
    ("onnxruntime", "bf16", {}, "--precision bf16: the onnxruntime backend runs fp32, fp16"),
    ("onnxruntime", None, {"cuda_graphs": True}, "--cuda-graphs applies to the torch backend, not onnxruntime"),
    ("torch", None, {"threads": 1}, "--threads applies to the onnxruntime backend, not torch"),
])
def test_one_table_says_what_each_runtime_takes(network, backend, precision, options, message):
    """capabilities.RUNTIMES is the one list of backends, precisions and options: the CLI's choices
    come from it and create_backend refuses what a runtime does not have, in one line."""
    from rtstyle.cli import build_parser
    from rtstyle.capabilities import BACKEND_CHOICES, PRECISIONS

    with pytest.raises(RtstyleError, match=re.escape(message)):
        create_backend(resolve_style(str(network)), backend, precision=precision, **options)
    convert = build_parser()._subparsers._group_actions[0].choices["convert"]
    choices = {a.dest: a.choices for a in convert._actions}
    assert tuple(choices["backend"]) == BACKEND_CHOICES and tuple(choices["precision"]) == PRECISIONS


@pytest.mark.parametrize("size,fixed,infer_scale,preserve", [
    ((120, 200), None, 1.0, False),
    ((37, 61), None, 1.0, True),  # padded to the stride and cropped back, colour kept
    ((120, 200), None, 0.5, True),  # reduced size
    ((120, 200), (60, 100), 1.0, False),  # a network that takes one size only (a static TensorRT engine)
])
def test_one_path_on_the_host_and_the_device(network, photo256, size, fixed, infer_scale, preserve):
    """`transform.stylize` is the one path around every network: the tensor path (what the CUDA
    runner and TensorRT run) gives the host path's picture for frames of any size. (Where a
    resize does not halve evenly, OpenCV's and torch's area filters differ a little: sizes here
    halve evenly.)"""
    from dataclasses import replace

    from rtstyle.backends import Backend, TorchRuntime

    style = resolve_style(str(network))
    net = Backend(style, TorchRuntime(style.build(), replace(style.input_spec, fixed_size=fixed)))
    net.infer_scale, net.preserve_color, net.strength = infer_scale, preserve, 0.8
    frame = cv2.resize(photo256, size[::-1], interpolation=cv2.INTER_AREA)
    host = net(frame)
    device = net.forward(torch.from_numpy(frame[None])).numpy()[0]
    assert host.shape == device.shape == frame.shape
    assert max_diff(host, frame) > 30  # it did stylize
    assert max_diff(host, device) <= 2
