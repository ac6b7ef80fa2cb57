"""The lite (CPU) architecture, trained lite variants, --lite and the automatic --infer-scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import run_cli
from rtstyle.backends import create_backend
from rtstyle.backends import load_backend
from rtstyle.errors import RtstyleError
from rtstyle.images import read_image
from rtstyle.models import resolve_style
from rtstyle.models.transformer_net import TransformerNet
from rtstyle.models.lite import ARCHITECTURE, LiteTransformerNet
from rtstyle.models.importing import import_style
from rtstyle.models.library import LITE_SUFFIX, available_styles, lite_variant



def test_lite_net_keeps_the_interface_at_a_fraction_of_the_weights():
    lite, full = LiteTransformerNet(), TransformerNet(16, 5)
    x = torch.rand(2, 3, 36, 52) * 255
    with torch.no_grad():
        assert lite.eval()(x).shape == x.shape
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(lite) * 10 < n(full)


def test_a_preset_is_its_own_lite_variant_unless_it_ships_a_student():
    """--lite on a preset (or a blend of presets) runs the preset itself, smaller (load_backend),
    or its student where it ships one (`rtstyle train --teacher`, tools/make_presets.py --lite);
    a style that needs --style-image has none."""
    styles = available_styles()
    for name in ("starry", "udnie", "mosaic", "candy", "stained_glass", "frost"):
        student = styles.get(f"{name}{LITE_SUFFIX}")
        assert lite_variant(name) == (student or styles[name])
        if student:
            assert student.meta.extra["lite_of"] == name and student.meta.architecture == styles[name].meta.architecture
    assert lite_variant("starry").name == "starry_lite" and lite_variant("udnie").name == "udnie"
    blend = lite_variant("starry:0.7,udnie:0.3")
    assert blend.origin == "blend" and blend.meta.architecture == styles["starry"].meta.architecture
    with pytest.raises(RtstyleError, match="no lite variant"):
        lite_variant("magenta")


def test_lite_flag_runs_a_preset_on_onnxruntime_at_half_size_on_360_lines(tmp_path, photo_file):
    out = tmp_path / "o.png"
    for style, runs in (("udnie", "udnie"), ("starry", "starry_lite")):  # udnie is its own, starry has a student
        proc = run_cli("image", photo_file, "-o", out, "--style", style, "--lite", "--height", "360", "-y", check=True)
        said = proc.stdout + proc.stderr
        assert f"style {runs} on onnxruntime({runs}, cpu" in said and "infer-scale 0.5 from 360 lines" in said
        assert read_image(out).shape == (360, 640, 3)
    proc = run_cli("image", photo_file, "-o", tmp_path / "e.png", "--style", "adain", "--lite")
    assert proc.returncode == 1 and "no lite variant" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_automatic_scale_keeps_small_frames_whole():
    backend = load_backend("starry", "torch", lite=True)  # what --lite sets on a preset
    assert (backend.infer_scale, backend.infer_min_side) == (0.5, 180)
    assert backend.scale_for(360, 640) == 0.5  # half size from 360 lines...
    assert backend.scale_for(1080, 1920) == pytest.approx(512 / 1920)  # ...or the preset's stroke size, if smaller
    assert backend.scale_for(240, 426) == 1.0  # 120 lines would be too few
    coarse = load_backend("starry", "torch", lite=True, stroke=2.0)
    plain = load_backend("starry", "torch", stroke=2.0)
    for h, w in ((240, 426), (360, 640), (1080, 1920)):  # --lite never runs the network larger than without it
        assert coarse.scale_for(h, w) <= plain.scale_for(h, w) < 1.0
    frame = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    backend.infer_scale = 1.0
    whole = backend(frame)
    backend.infer_scale = 0.5
    assert np.array_equal(backend(frame), whole)


@pytest.mark.slow
def test_train_lite_writes_a_lite_style(tmp_path, painting_files, transformer_net, one_photo):
    from rtstyle.images import write_image

    content = tmp_path / "content"
    content.mkdir()
    write_image(content / "a.png", (np.random.default_rng(1).random((96, 128, 3)) * 255).astype(np.uint8))
    run_cli("train", "--lite", "--style-image", painting_files[1], "--content", content, "--name",
            "tl", "--out", tmp_path / "t", "--size", "64", "--style-size", "96", "--iters", "2", "--eval-photos",
            one_photo, "-q", check=True)
    style = resolve_style(tmp_path / "t" / "tl.safetensors")
    assert style.meta.architecture == ARCHITECTURE and (style.meta.width, style.meta.num_residual) == (8, 3)
    frame = (np.random.default_rng(2).random((64, 80, 3)) * 255).astype(np.uint8)
    assert create_backend(style, "torch")(frame).shape == frame.shape
    # imported beside a full network NAME as NAME_lite, it is what --lite runs for NAME
    import_style(transformer_net, "tl-full")
    import_style(style.path, f"tl-full{LITE_SUFFIX}")
    assert lite_variant("tl-full").name == f"tl-full{LITE_SUFFIX}"
    backend = load_backend("tl-full", "torch", lite=True)
    assert backend.style.meta.architecture == ARCHITECTURE and backend.scale_for(360, 640) == 0.5
    assert backend(frame).shape == frame.shape
    # chosen by its own name, without --lite, a lite style still gets the lite runtime on a CPU
    if not torch.cuda.is_available():
        assert load_backend(f"tl-full{LITE_SUFFIX}").name == "onnxruntime"
        assert load_backend("tl-full").name != "onnxruntime"  # a full pytorch/examples network: PyTorch


def test_bench_times_full_and_lite_per_style(tmp_path):
    """A preset's lite variant (itself, or its student) runs at --lite's half size: its rows are
    told apart as NAME (lite)."""
    import json

    out = tmp_path / "bench.json"
    proc = run_cli("bench", "--style", "starry", "udnie", "--variants", "full", "lite", "--backends", "torch",
                   "--sizes", "96x64", "640x360", "--runs", "1", "--warmup", "0", "--frames", "4", "--json", out,
                   check=True)
    rows = json.loads(out.read_text())["results"]
    assert len(rows) == 8 and not any(r["error"] for r in rows)
    shown = ("starry", "starry_lite", "udnie", "udnie (lite)")  # starry ships a student; udnie is its own
    assert {(r["style"], r["size"]) for r in rows} == {(s, z) for s in shown for z in ("96x64", "640x360")}
    scale = {(r["style"], r["size"]): r["infer_scale"] for r in rows}
    assert all(scale[s, "96x64"] == 1.0 for s in shown)
    # full: the preset's stroke size (the network's long side at 512 / 384 px); lite: half size from 360 lines
    assert scale["starry", "640x360"] == pytest.approx(512 / 640)
    assert scale["udnie", "640x360"] == pytest.approx(384 / 640)
    assert scale["starry_lite", "640x360"] == scale["udnie (lite)", "640x360"] == 0.5
    lite_360 = next(r for r in rows if r["style"] == "starry_lite" and r["size"] == "640x360")
    assert lite_360["model_ms"]["rescale"] > 0 and lite_360["e2e_fps"] > 0
    assert "| starry_lite | torch | fp32 | 640x360 | 0.5 | cpu |" in proc.stdout
