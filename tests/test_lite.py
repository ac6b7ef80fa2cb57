"""The lite (CPU) architecture, its built-in variants, --lite and the automatic --infer-scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import fixture, run_cli
from rtstyle.backends import create_backend
from rtstyle.images import read_image
from rtstyle.models import TransformerNet, resolve_style
from rtstyle.models.lite import ARCHITECTURE, LiteTransformerNet
from rtstyle.models.registry import LITE_SUFFIX, available_styles

PHOTO = "images/content/sailboat.jpg"
BUILTIN_LITE = sorted(n for n, s in available_styles().items() if s.origin == "built-in"
                      and s.meta.architecture == ARCHITECTURE)


def test_lite_net_keeps_the_interface_at_a_fraction_of_the_weights():
    lite, full = LiteTransformerNet(), TransformerNet(16, 5)
    x = torch.rand(2, 3, 36, 52) * 255
    with torch.no_grad():
        assert lite.eval()(x).shape == x.shape
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(lite) * 10 < n(full)


def test_every_builtin_lite_variant_has_its_full_style():
    styles = available_styles()
    assert BUILTIN_LITE and all(styles[n.removesuffix(LITE_SUFFIX)].meta.architecture == "transformer_net"
                                for n in BUILTIN_LITE)
    listing = run_cli("styles", check=True).stdout.splitlines()
    for name in BUILTIN_LITE:
        assert any(line.startswith(f"{name} ") and "lite (CPU) variant" in line for line in listing)
        assert any(line.startswith(f"{name.removesuffix(LITE_SUFFIX)} ") for line in listing)


def test_lite_flag_uses_the_variant_at_half_size_on_360_lines(tmp_path):
    out = tmp_path / "o.png"
    proc = run_cli("image", fixture(PHOTO), "-o", out, "--style", "starry", "--lite", "--height", "360", check=True)
    said = proc.stdout + proc.stderr
    assert "style starry_lite" in said and "infer-scale 0.5 from 360 lines" in said
    assert read_image(out).shape[0] == 360
    proc = run_cli("image", fixture(PHOTO), "-o", tmp_path / "e.png", "--style", "adain", "--lite")
    assert proc.returncode == 1 and "no lite variant" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_automatic_scale_keeps_small_frames_whole():
    backend = create_backend(resolve_style("starry_lite"), "torch")
    backend.infer_scale, backend.infer_min_side = 0.5, 180
    assert backend.scale_for(360, 640) == 0.5 and backend.scale_for(1080, 1920) == 0.5
    assert backend.scale_for(240, 426) == 1.0  # 120 lines would be too few
    frame = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    backend.infer_scale = 1.0
    whole = backend(frame)
    backend.infer_scale = 0.5
    assert np.array_equal(backend(frame), whole)


def test_train_lite_writes_a_lite_style(tmp_path):
    from rtstyle.images import write_image

    content = tmp_path / "content"
    content.mkdir()
    write_image(content / "a.png", (np.random.default_rng(1).random((96, 128, 3)) * 255).astype(np.uint8))
    run_cli("train", "--lite", "--style-image", fixture("images/style/udnie.jpg"), "--content", content, "--name",
            "tl", "--out", tmp_path / "t", "--size", "64", "--style-size", "96", "--iters", "2", "-q", check=True)
    style = resolve_style(tmp_path / "t" / "tl.safetensors")
    assert style.meta.architecture == ARCHITECTURE and (style.meta.width, style.meta.num_residual) == (8, 3)
    frame = (np.random.default_rng(2).random((64, 80, 3)) * 255).astype(np.uint8)
    assert create_backend(style, "torch")(frame).shape == frame.shape


# Shipped lite variants that miss issue #7's 1.2x bar, with what their model cards say. Strict:
# a variant that starts meeting the bar fails here until it is taken off this list.
BELOW_THE_BAR: dict[str, str] = {}


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=BELOW_THE_BAR[n], strict=True))
                                  if n in BELOW_THE_BAR else n for n in BUILTIN_LITE])
def test_lite_variant_stays_close_to_its_full_style(name):
    """Issue #7's bar: each lite variant's mean style-loss ratio within 1.2x of its full variant's
    (the <= 0.6 bar for both is test_train_eval's; the evaluations are shared with it)."""
    from test_train_eval import builtin_result

    lite, full = builtin_result(name)["mean"], builtin_result(name.removesuffix(LITE_SUFFIX))["mean"]
    assert lite <= 1.2 * full, (lite, full)


def test_bench_times_full_and_lite_per_style(tmp_path):
    import json

    out = tmp_path / "bench.json"
    proc = run_cli("bench", "--style", "starry", "udnie", "--variants", "full", "lite", "--backends", "torch",
                   "--sizes", "96x64", "640x360", "--runs", "1", "--warmup", "0", "--frames", "4", "--json", out,
                   check=True)
    rows = json.loads(out.read_text())["results"]
    assert {(r["style"], r["size"]) for r in rows} == {(s, z) for s in ("starry", "starry_lite", "udnie", "udnie_lite")
                                                       for z in ("96x64", "640x360")}
    lite_360 = next(r for r in rows if r["style"] == "starry_lite" and r["size"] == "640x360")
    assert lite_360["infer_scale"] == 0.5 and lite_360["model_ms"]["rescale"] > 0 and lite_360["e2e_fps"] > 0
    assert all(r["infer_scale"] == 1.0 for r in rows if r["size"] == "96x64" or not r["style"].endswith("_lite"))
    assert "| starry_lite | torch | fp32 | 640x360 | 0.5 | cpu |" in proc.stdout
