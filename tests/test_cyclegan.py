"""CycleGAN ResNet generators in the pytorch-CycleGAN-and-pix2pix state_dict format."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import ffprobe, run_cli, stream
from rtstyle.backends import create_backend
from rtstyle.errors import RtstyleError
from rtstyle.images import read_image
from rtstyle.models import resolve_style
from rtstyle.models.cyclegan import ResnetGenerator

LEVELS = (200, 120, 40)  # R, G, B the constant generator paints


def test_layout_matches_upstream_resnet_9blocks():
    """Upstream's issue #45 printed 11,388,675 parameters for resnet_9blocks with affine instance
    norm; today's instance norm has no affine parameters (2 x 5248 channels fewer)."""
    g = ResnetGenerator()
    keys = list(g.state_dict())
    assert len(keys) == 48 and keys[:2] == ["model.1.weight", "model.1.bias"] and keys[-2:] == ["model.26.weight",
                                                                                                  "model.26.bias"]
    assert "model.10.conv_block.5.weight" in keys and "model.18.conv_block.1.bias" in keys
    assert sum(p.numel() for p in g.parameters()) == 11_388_675 - 2 * 5248
    with_dropout = ResnetGenerator(norm="batch", dropout=True).state_dict()
    assert "model.18.conv_block.6.weight" in with_dropout and "model.18.conv_block.5.weight" not in with_dropout


def constant_generator(width: int = 8, blocks: int = 2) -> ResnetGenerator:
    """A generator that paints LEVELS everywhere: zero last conv, tanh^-1 of the colour as its bias."""
    g = ResnetGenerator(width, blocks)
    with torch.no_grad():
        g.model[-2].weight.zero_()
        g.model[-2].bias.copy_(torch.tensor([math.atanh(v / 127.5 - 1) for v in LEVELS]))
    return g


@pytest.mark.parametrize("variant", ["plain", "dataparallel", "old_running_stats", "batch_dropout"])
def test_checkpoint_variants_load_and_match(tmp_path, variant):
    torch.manual_seed(0)
    g = ResnetGenerator(8, 3, norm="batch", dropout=True) if variant == "batch_dropout" else ResnetGenerator(8, 3)
    if variant == "batch_dropout":  # give batch norm statistics that matter
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2)
    g.eval()
    state = g.state_dict()
    if variant == "dataparallel":
        state = {f"module.{k}": v for k, v in state.items()}
    if variant == "old_running_stats":  # what InstanceNorm saved before PyTorch 0.4
        state |= {"model.2.running_mean": torch.zeros(8), "model.2.running_var": torch.ones(8)}
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)
    style = resolve_style(path)
    assert style.meta.architecture == "cyclegan_resnet"
    assert (style.meta.width, style.meta.num_residual) == (8, 3)
    assert style.meta.extra["norm"] == ("batch" if variant == "batch_dropout" else "instance")
    x = torch.rand(1, 3, 32, 48) * 255
    with torch.no_grad():
        assert torch.allclose(style.build()(x), g(x), atol=1e-4)


def test_import_then_every_mode_paints_in_rgb_0_255(tmp_path, short_clip, photo_file):
    """The constant generator pins down the output mapping: -1..1 back to 0..255, RGB order."""
    ckpt = tmp_path / "latest_net_G.pth"
    torch.save(constant_generator().state_dict(), ckpt)
    run_cli("import", ckpt, "--name", "painter", check=True)
    listing = run_cli("styles", check=True).stdout
    assert any("painter" in line and "cyclegan_resnet" in line and "ngf 8, 2 res blocks" in line
               for line in listing.splitlines())
    out = tmp_path / "o.png"
    run_cli("image", photo_file, "-o", out, "--style", "painter", "--height", "96", check=True)
    img = read_image(out)
    assert img.shape[0] == 96 and np.abs(img.reshape(-1, 3).astype(int) - LEVELS).max() <= 1
    video = tmp_path / "o.mp4"
    run_cli("convert", short_clip, "-o", video, "-q", "--style", "painter", "--height", "96", "--temporal", "off",
            check=True)
    v = stream(ffprobe(video), "video")
    assert v["codec_name"] == "h264" and int(v["height"]) == 96 and int(v["nb_read_frames"]) > 0
    import av

    with av.open(str(video)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(frame.reshape(-1, 3).mean(0) - LEVELS).max() < 4  # h264 + yuv420p rounding


def test_onnx_export_and_runtime_match_torch(tmp_path):
    torch.manual_seed(1)
    ckpt = tmp_path / "latest_net_G.pth"
    torch.save(ResnetGenerator(8, 2).state_dict(), ckpt)
    onnx_path = tmp_path / "g.onnx"
    proc = run_cli("export", "--style", ckpt, "-o", onnx_path, "--height", "64", "--width", "96", check=True)
    assert "max |diff|" in proc.stdout
    frame = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    a = create_backend(resolve_style(ckpt), "torch")(frame).astype(int)
    b = create_backend(resolve_style(onnx_path), "onnxruntime")(frame).astype(int)
    assert np.abs(a - b).max() <= 2 and a.std() > 1


def test_unsupported_generators_are_named(tmp_path):
    unet = tmp_path / "unet_G.pth"
    torch.save({"model.model.0.weight": torch.zeros(64, 3, 4, 4)}, unet)
    with pytest.raises(RtstyleError, match="U-Net"):
        resolve_style(unet).build()
    broken = ResnetGenerator(8, 2).state_dict()
    del broken["model.10.conv_block.5.weight"]
    torch.save(broken, tmp_path / "broken.pth")
    proc = run_cli("import", tmp_path / "broken.pth", "--name", "broken")
    assert proc.returncode == 1 and "do not fit" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    torch.save(ResnetGenerator(8, 2).state_dict(), tmp_path / "g.pth")
    proc = run_cli("import", tmp_path / "g.pth", "--name", "g", "--input-range", "0-1")
    assert proc.returncode == 1 and "--input-range" in proc.stderr
