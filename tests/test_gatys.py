"""`rtstyle image --method gatys`: the image itself optimised on VGG-19 losses."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_cli
from rtstyle.images import read_image, resize_long_side
from rtstyle.metrics import style_loss_ratio



@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_gatys_moves_the_image_towards_the_style(tmp_path, optimizer, photo_file, painting_files):
    out_path = tmp_path / "g.png"
    proc = run_cli("image", photo_file, "--method", "gatys", "--style-image", painting_files[0], "--size", "96",
                   "--iterations", "15", "--optimizer", optimizer, "-o", out_path, check=True)
    assert "15/15" in proc.stdout + proc.stderr  # the progress bar reached the end
    out = read_image(out_path)
    content = resize_long_side(read_image(photo_file), 96)
    assert out.shape == content.shape
    assert np.abs(out.astype(int) - content).mean() > 3  # changed
    assert style_loss_ratio(out, content, read_image(painting_files[0])) < 0.95  # closer to the style


def test_gatys_errors_are_one_line(tmp_path, photo_file, painting_files):
    for args in (["--method", "gatys"], ["--method", "gatys", "--style-image", tmp_path / "missing.jpg"]):
        proc = run_cli("image", photo_file, "-o", tmp_path / "x.png", *args)
        assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert not (tmp_path / "x.png").exists()
    proc = run_cli("image", photo_file, "-o", tmp_path / "x.png", "--method", "gatys", "--style-image",
                   painting_files[0], "--iterations", "0")
    assert proc.returncode == 2 and "--iterations: must be at least 1" in proc.stderr  # bad usage
    assert not (tmp_path / "x.png").exists()
