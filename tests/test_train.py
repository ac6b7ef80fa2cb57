"""The training tool: tiny runs, their logs and weights, resuming, fine-tuning, and its one-line errors."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from conftest import run_cli
from rtstyle.convert import SAMPLE_SHOTS
from rtstyle.models import import_style, resolve_style


@pytest.mark.slow
def test_train_writes_weights_log_and_resumes(tmp_path, content_dir, painting_files, one_photo):
    style = painting_files[1]
    args = ["train", "--style-image", style, "--content", content_dir, "--name", "tiny", "--out", tmp_path / "t",
            "--channels", "4", "--size", "64", "--style-size", "96", "-q"]
    first = run_cli(*args, "--iters", "3", "--eval-photos", one_photo)
    assert first.returncode == 0, first.stderr
    weights = tmp_path / "t" / "tiny.safetensors"
    meta = resolve_style(weights).meta
    assert meta.width == 4 and style.name in meta.provenance
    second = run_cli(*args, "--iters", "5")
    assert second.returncode == 0, second.stderr
    rows = list(csv.DictReader(open(tmp_path / "t" / "tiny.losses.csv")))
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3, 4, 5]  # resumed at 4, not restarted
    assert all(float(r["style"]) > 0 and float(r["content"]) >= 0 for r in rows)
    ck = torch.load(tmp_path / "t" / "tiny.ckpt.pt", weights_only=True)
    assert ck["iteration"] == 5
    assert "quality: structure" in second.stdout and "style ratio" in second.stdout
    quality = json.loads((tmp_path / "t" / "tiny.quality.json").read_text())
    assert len(quality["structure"]) == len(quality["style_ratio"]) == len(SAMPLE_SHOTS)  # the bundled clip's
    assert all(-1 <= v <= 1 for v in quality["structure"]) and all(v > 0 for v in quality["style_ratio"])
    bad = run_cli(*args, "--iters", "6", "--eval-photos", tmp_path / "nope")
    assert bad.returncode == 1 and "--eval-photos" in bad.stderr and "Traceback" not in bad.stderr
    assert int(list(csv.DictReader(open(tmp_path / "t" / "tiny.losses.csv")))[-1]["iteration"]) == 5  # refused first


def test_stability_views_show_the_same_scene_at_the_returned_offset():
    """The temporal loss compares the right pixels: views of one scene agree at (dy, dx) up to
    the added noise, and disagree at any other offset."""
    import random

    from rtstyle.train import TEMPORAL_NOISE, TEMPORAL_SHIFT, overlap_mse, shifted_views

    big = torch.rand(1, 3, 64 + TEMPORAL_SHIFT, 64 + TEMPORAL_SHIFT) * 255
    rng = random.Random(3)
    offsets = set()
    for _ in range(20):
        x1, x2, dy, dx = shifted_views(big, 64, rng)
        offsets.add((dy, dx))
        assert x1.shape == x2.shape == (1, 3, 64, 64)
        assert overlap_mse(x1, x2, dy, dx, margin=2) <= 1.1 * TEMPORAL_NOISE**2
        assert overlap_mse(x1, x2, dy + 1, dx, margin=2) > 1000  # neighbouring pixels of noise
        assert overlap_mse(2 * x1, 2 * x2, dy, dx, margin=2) <= 4.4 * TEMPORAL_NOISE**2  # any pixel-wise map
    assert len(offsets) > 10


@pytest.mark.slow
def test_train_fine_tunes_a_style_for_stability(tmp_path, content_dir, transformer_net, painting_files, one_photo):
    import_style(transformer_net, "tune-base")  # a TransformerNet (width 8) to start from
    style = painting_files[0]
    args = ["train", "--style-image", style, "--content", content_dir, "--init", "tune-base", "--temporal-weight",
            "10", "--size", "64", "--style-size", "96", "--iters", "2", "--eval-photos", one_photo, "-q"]
    proc = run_cli(*args, "--name", "steady", "--out", tmp_path / "t")
    assert proc.returncode == 0, proc.stderr
    meta = resolve_style(tmp_path / "t" / "steady.safetensors").meta
    assert (meta.architecture, meta.width, meta.num_residual) == ("transformer_net", 8, 5)  # tune-base's network
    rows = list(csv.DictReader(open(tmp_path / "t" / "steady.losses.csv")))
    assert len(rows) == 2 and all(float(r["temporal"]) > 0 for r in rows)
    bad = run_cli(*args, "--name", "bad", "--out", tmp_path / "b", "--channels", "16")
    assert bad.returncode == 1 and "--init tune-base" in bad.stderr and "Traceback" not in bad.stderr
    resumed = run_cli(*[a for a in args if a not in ("--temporal-weight", "10")], "--iters", "3",
                      "--name", "steady", "--out", tmp_path / "t")  # argparse: the last --iters wins
    assert resumed.returncode == 1 and "logged other losses" in resumed.stderr and "Traceback" not in resumed.stderr
    assert len(list(csv.DictReader(open(tmp_path / "t" / "steady.losses.csv")))) == 2  # the log is left as it was
    lite = run_cli(*args, "--name", "bad", "--out", tmp_path / "b", "--lite")
    assert lite.returncode == 1 and "full-size network" in lite.stderr and "Traceback" not in lite.stderr


@pytest.mark.parametrize("init", ["starry", "magenta"])
def test_train_init_from_a_preset_is_one_line(tmp_path, content_dir, init, painting_files):
    """Presets are conditions of Magenta's networks, not TransformerNets: nothing to fine-tune."""
    for lite in ([], ["--lite"]):
        proc = run_cli("train", "--style-image", painting_files[1], "--content", content_dir,
                       "--init", init, "--name", "x", "--out", tmp_path / "o", "--iters", "1", "-q", *lite)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert f"--init {init}: a style_vector network cannot be trained here" in lines[0]
    assert not (tmp_path / "o").exists()


def test_train_without_content_is_one_line(tmp_path, painting_files):
    (tmp_path / "empty").mkdir()
    proc = run_cli("train", "--style-image", painting_files[1], "--content", tmp_path / "empty",
                   "--name", "x", "--out", tmp_path / "o", "--iters", "1", "-q")
    assert proc.returncode == 1 and "no images or videos" in proc.stderr and "Traceback" not in proc.stderr
