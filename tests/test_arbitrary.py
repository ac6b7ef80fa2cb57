"""Arbitrary styles from any image: the external Magenta pair imported, --style-image, mixing, alpha."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import av
import cv2
import numpy as np
import pytest

from conftest import ffprobe, fixture, run_cli, stream
from rtstyle.backends import PairVector, create_backend
from rtstyle.errors import RtstyleError
from rtstyle.images import read_image
from rtstyle.models import import_style, resolve_style
from servers import stop
from screens import wait_for, wait_size, x

PAIR = "onnx/magenta_arbitrary"


@pytest.fixture(scope="module")
def magenta() -> str:
    import_style(fixture(f"{PAIR}/arbitrary_transform.onnx"), "magenta_t",
                 predictor=fixture(f"{PAIR}/arbitrary_predict.onnx"))
    return "magenta_t"


@pytest.fixture(scope="module")
def photo(photo_file) -> np.ndarray:
    return cv2.resize(read_image(photo_file), (384, 384), interpolation=cv2.INTER_AREA)


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_import_lists_the_pair_as_one_style(magenta):
    style = resolve_style(magenta)
    assert style.meta.architecture == "magenta_arbitrary" and style.meta.layout == "NHWC"
    assert (style.path.parent / style.meta.extra["predictor"]).is_file()
    proc = run_cli("styles", check=True)
    assert "magenta_arbitrary" in proc.stdout and "predict" not in proc.stdout  # the predictor is not a style


def test_any_image_is_a_style(magenta, photo, painting_files):
    base = create_backend(resolve_style(magenta))
    assert isinstance(base.adapter, PairVector) and base.fixed_size == (384, 384)
    candy = base.with_style([read_image(painting_files[0])])(photo)
    udnie = base.with_style([read_image(painting_files[1])])(photo)
    assert candy.shape == photo.shape and candy.dtype == np.uint8
    assert mad(candy, photo) > 20 and mad(udnie, photo) > 20  # stylized
    assert mad(candy, udnie) > 15  # and each image gives its own look


def test_mixing_weights_are_normalised(magenta, photo, painting_files):
    base = create_backend(resolve_style(magenta))
    images = [read_image(painting_files[0]), read_image(painting_files[1])]
    only_candy = base.with_style(images[:1])
    np.testing.assert_allclose(base.with_style(images, [1, 0]).adapter.vector, only_candy.adapter.vector, atol=1e-6)
    np.testing.assert_allclose(base.with_style(images, [2, 2]).adapter.vector,
                               base.with_style(images, [1, 1]).adapter.vector, atol=1e-6)
    half = base.with_style(images, [1, 1]).adapter.vector
    np.testing.assert_allclose(half, (only_candy.adapter.vector + base.with_style(images[1:]).adapter.vector) / 2,
                               atol=1e-5)
    for bad in ([1], [1, -1], [0, 0]):
        with pytest.raises(RtstyleError, match="style-weights"):
            base.with_style(images, bad)


def test_alpha_moves_from_the_content_to_the_style(magenta, photo, painting_files):
    base = create_backend(resolve_style(magenta))
    candy = [read_image(painting_files[0])]
    full, none = base.with_style(candy, alpha=1.0)(photo), base.with_style(candy, alpha=0.0)(photo)
    half = base.with_style(candy, alpha=0.5)(photo)
    assert mad(none, photo) < mad(half, photo) < mad(full, photo)
    assert mad(none, photo) < 0.6 * mad(full, photo)
    with pytest.raises(RtstyleError, match="strength must be between 0 and 1"):
        base.with_style(candy, alpha=1.5)


def test_sessions_are_shared_between_styles(magenta, painting_files):
    base = create_backend(resolve_style(magenta))
    bound = base.with_style([read_image(painting_files[0])])
    assert bound.runtime is base.runtime and bound.adapter.predictor is base.adapter.predictor
    assert base.adapter.vector is None and bound.adapter.vector is not None


@pytest.mark.parametrize("args,message", [
    ([], "give --style-image"),
    (["--style-image", "MISSING.jpg"], "no such file"),
    (["--style-image", "PAINTING", "--style-weights", "1", "2"], "style-weights"),
    (["--style-image", "PAINTING", "--alpha", "2"], "--strength must be between 0 and 1"),
    (["--style-image", "PAINTING", "--backend", "torch"], "runs on onnxruntime"),
])
def test_arbitrary_errors_are_one_line(magenta, tmp_path, args, message, photo_file, painting_files):
    args = [str(painting_files[0]) if a == "PAINTING" else a for a in args]
    proc = run_cli("image", photo_file, "-o", tmp_path / "o.png", "--style", magenta, *args)
    usage = "must be between" in message  # an option out of range: bad usage, status 2
    assert proc.returncode == (2 if usage else 1) and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o.png").exists()


def test_style_image_with_a_per_style_network_is_refused(tmp_path, painting_files, photo_file):
    proc = run_cli("image", photo_file, "-o", tmp_path / "o.png", "--style", "starry",
                   "--style-image", painting_files[0])
    assert proc.returncode == 1 and "needs an arbitrary-style model" in proc.stderr


@pytest.mark.slow
@pytest.mark.usefixtures("ffmpeg_tools")
def test_convert_with_a_style_image_keeps_every_frame(magenta, tmp_path, painting_files):
    out = tmp_path / "o.mp4"
    run_cli("convert", "--style", magenta, "--style-image", painting_files[1], "--alpha", "0.8", "--height", "180",
            "-o", out, "-q", check=True)
    v = stream(ffprobe(out), "video")
    assert int(v["nb_read_frames"]) == 156 and (int(v["width"]), int(v["height"])) == (320, 180)


@pytest.mark.timeout(240)
@pytest.mark.usefixtures("ffmpeg_tools")
def test_live_style_dir_cycles_style_images(magenta, xvfb, tmp_path, photo_file, painting_files):
    clip = tmp_path / "still.mp4"
    # lossless, so every frame is the same (the 384x384 model magnifies coding noise between P-frames)
    subprocess.run(["ffmpeg", "-v", "error", "-loop", "1", "-i", str(photo_file),
                    "-t", "4", "-r", "12", "-vf", "scale=320:-2", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                    "-qp", "0", str(clip)], check=True)
    with av.open(str(clip)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    styles = tmp_path / "styles"
    styles.mkdir()
    for painting in painting_files:
        (styles / painting.name).write_bytes(painting.read_bytes())
    base = create_backend(resolve_style(magenta))
    expected = [base.with_style([read_image(styles / p.name)])(frame) for p in sorted(painting_files)]
    assert mad(expected[0], expected[1]) > 15
    env = {**os.environ, "DISPLAY": xvfb}
    proc = subprocess.Popen([sys.executable, "-m", "rtstyle", "live", "--source", str(clip), "--realtime", "--loop",
                             "--style", magenta, "--style-dir", str(styles), "--temporal", "off",
                             "--quality", "max"],  # exact frames: --quality auto shrinks the network under load
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wid = wait_size(xvfb, frame.shape[1], frame.shape[0])
        wait_for(xvfb, expected[0])
        t0 = time.monotonic()
        x(xvfb, "windowfocus", "--sync", wid, "key", "n")
        wait_for(xvfb, expected[1])
        assert time.monotonic() - t0 < 30
        x(xvfb, "key", "q")
        _, err = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 0, err
