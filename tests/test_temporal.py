"""Temporal smoothing: flicker removed along the motion, nothing blended where it should not be."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from rtstyle.backends.upsample import at_reduced_size
from rtstyle.convert import SAMPLE_CLIP
from conftest import run_cli, steady_style
from rtstyle.errors import RtstyleError
from rtstyle.frames import Frame
from rtstyle.images import read_image
from rtstyle.models import resolve_style
from rtstyle.models.formats import StyleMeta
from rtstyle.temporal import DEFAULT_STRENGTH, TemporalSmoother
from rtstyle.temporal.composite import composite, composite_torch
from rtstyle.temporal.flow import DisFlow, Motion, analyse, small_frame

SIZE = (320, 180)  # w, h
STEP = 3  # pan speed, pixels per frame


@pytest.fixture(scope="module")
def photo(photo_file) -> np.ndarray:
    image = read_image(photo_file)
    return cv2.resize(image, (SIZE[0] * 2, SIZE[1] * 2), interpolation=cv2.INTER_AREA)


def pan(image: np.ndarray, n: int, start: int = 0) -> list[np.ndarray]:
    """A camera panning right over a still image: content moves left STEP pixels a frame."""
    w, h = SIZE
    return [np.ascontiguousarray(image[40:40 + h, start + i * STEP:start + i * STEP + w]) for i in range(n)]


def fake_style(frame: np.ndarray) -> np.ndarray:
    """A deterministic 'stylization' (posterized, recoloured): flicker-free by itself."""
    return cv2.applyColorMap(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) // 16 * 16, cv2.COLORMAP_OCEAN)


def flicker(images: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """What per-frame stylization adds: colour pulsing and blotchy texture that change every frame."""
    rng = np.random.default_rng(seed)
    out = []
    for im in images:
        blotches = cv2.GaussianBlur(rng.normal(0, 1, im.shape).astype(np.float32), (0, 0), 2) * 60
        shift = rng.uniform(-12, 12, 3).astype(np.float32)
        out.append(np.clip(im.astype(np.float32) + blotches + shift, 0, 255).astype(np.uint8))
    return out


def temporal_error(frames: list[np.ndarray], step: int = STEP) -> float:
    """Mean squared change between consecutive frames along the known pan (no flow estimate involved)."""
    w = frames[0].shape[1]
    return float(np.mean([np.mean((a[:, step:].astype(np.float32) - b[:, :w - step].astype(np.float32)) ** 2)
                          for a, b in zip(frames, frames[1:])]))


def frame_change(frames: list[np.ndarray]) -> float:
    """Mean squared change between consecutive frames in place (a fixed camera: nothing moves)."""
    return float(np.mean([np.mean((a.astype(np.float32) - b) ** 2) for a, b in zip(frames[1:], frames)]))


def smooth(smoother: TemporalSmoother, inputs, stylized, styled_by=None) -> list[np.ndarray]:
    return [smoother(Frame(i, s.copy(), original=x, styled_by=(styled_by or [0] * len(inputs))[i])).image
            for i, (x, s) in enumerate(zip(inputs, stylized))]


@pytest.mark.parametrize("mode", ["fast", "quality"])
def test_pan_with_injected_flicker_is_mostly_removed(photo, mode):
    inputs = pan(photo, 24)
    clean = [fake_style(x) for x in inputs]
    noisy = flicker(clean)
    out = smooth(TemporalSmoother(mode, 0.7), inputs, noisy)
    before, after = temporal_error(noisy), temporal_error(out)
    assert after < 0.35 * before, (before, after)
    # steadier without smearing: closer to the flicker-free frames than the flickering ones were
    err = lambda seq: np.mean([np.mean((a.astype(np.float32) - c) ** 2) for a, c in zip(seq[5:], clean[5:])])  # noqa: E731
    assert err(out) < err(noisy)


def test_strength_zero_and_off_return_the_frames_exactly(photo):
    inputs = pan(photo, 8)
    noisy = flicker([fake_style(x) for x in inputs])
    for smoother in (TemporalSmoother("fast", 0.0), TemporalSmoother("off", 0.7)):
        out = smooth(smoother, inputs, noisy)
        assert all(np.array_equal(a, b) for a, b in zip(out, noisy))
    smoothed = smooth(TemporalSmoother("fast", 0.7), inputs, noisy)
    assert not np.array_equal(smoothed[-1], noisy[-1])  # the same frames do get smoothed when on


def test_hard_cut_resets_without_blending_across(photo):
    other = cv2.flip(cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_RGB2HSV), cv2.COLOR_HSV2RGB)[::-1], 1)
    inputs = pan(photo, 8) + pan(np.roll(other, 97, axis=1), 6)
    noisy = flicker([fake_style(x) for x in inputs])
    smoother = TemporalSmoother("fast", 0.9)
    out = smooth(smoother, inputs, noisy)
    assert smoother.cuts == 1
    assert np.array_equal(out[8], noisy[8])  # the first frame of the new shot is the fresh stylization
    assert not np.array_equal(out[9], noisy[9])  # and smoothing picks up again inside the shot
    assert not np.array_equal(out[7], noisy[7])


def test_style_switch_resets(photo):
    inputs = pan(photo, 4)
    noisy = flicker([fake_style(x) for x in inputs])
    smoother = TemporalSmoother("fast", 0.9)
    out = smooth(smoother, inputs, noisy, styled_by=[0, 0, 1, 1])
    assert np.array_equal(out[2], noisy[2]) and not np.array_equal(out[3], noisy[3])
    assert smoother.cuts == 1


def test_strength_follows_the_style_unless_fixed():
    stable = StyleMeta("stable", extra={"temporal_strength": "0.2"})
    plain = StyleMeta("plain")
    smoother = TemporalSmoother("fast")
    smoother.follow(stable)
    assert smoother.strength == 0.2 and "0.2" in smoother.describe()
    smoother.follow(plain)  # a live switch to a network that names no strength
    assert smoother.strength == DEFAULT_STRENGTH
    smoother.follow(resolve_style("starry").meta)  # a preset names the strength measured for it
    assert smoother.strength == resolve_style("starry").meta.temporal_strength
    fixed = TemporalSmoother("fast", 0.7)
    fixed.follow(stable)
    assert fixed.strength == 0.7  # the user's --temporal-strength wins
    with pytest.raises(RtstyleError, match="temporal_strength 3.0 is not between 0 and 1"):
        smoother.follow(StyleMeta("bad", extra={"temporal_strength": 3}))
    with pytest.raises(RtstyleError, match="temporal_strength 'x' is not a number"):
        smoother.follow(StyleMeta("bad", extra={"temporal_strength": "x"}))


def test_occluded_pixels_are_not_blended(photo):
    """A square slides over a still background: where it was, the background reappears."""
    w, h = SIZE
    background = np.ascontiguousarray(photo[:h, :w])
    frames = []
    for x0 in (100, 112):
        f = background.copy()
        f[60:120, x0:x0 + 60] = (230, 40, 40)
        frames.append(f)
    noisy = flicker([fake_style(f) for f in frames])
    smoother = TemporalSmoother("quality", 1.0)
    out = smooth(smoother, frames, noisy)
    occluded = smoother.last_motion.occluded  # analysis resolution = frame size in quality mode here
    assert occluded.shape == (h, w)
    assert occluded[70:110, 101:111].mean() > 0.8  # the strip the square uncovered
    assert np.array_equal(out[1][occluded], noisy[1][occluded])
    assert not np.array_equal(out[1][~occluded], noisy[1][~occluded])  # the rest is blended


def still_scene(photo: np.ndarray, n: int) -> list[np.ndarray]:
    """A fixed camera: the same view every frame, with a little sensor noise."""
    w, h = SIZE
    rng = np.random.default_rng(3)
    view = np.ascontiguousarray(photo[40:40 + h, :w])
    return [np.clip(view + rng.normal(0, 1.5, view.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def test_a_still_scene_is_held_sharp_and_steady(photo):
    """Static-region locking: with a fixed camera, the per-frame flicker is gone (>= 80%), and the
    output is one of the stylizations as it was (held, not an average of several: no wash)."""
    inputs = still_scene(photo, 12)
    noisy = flicker([fake_style(x) for x in inputs])
    smoother = TemporalSmoother("fast", 0.5)
    out = smooth(smoother, inputs, noisy)
    assert frame_change(out) <= 0.2 * frame_change(noisy), (frame_change(out), frame_change(noisy))
    assert smoother.held > 0.9
    contrast = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_32F).std()  # noqa: E731
    assert contrast(out[-1]) >= 0.95 * np.mean([contrast(x) for x in noisy])


def test_held_pixels_follow_a_slow_change_of_light(photo):
    """A held pixel is refreshed once its input drifts from the input it was made from: a slow
    brightening (1 grey level a frame, never a cut) is followed, not frozen."""
    base = still_scene(photo, 1)[0].astype(np.int16)
    inputs = [np.clip(base + i, 0, 255).astype(np.uint8) for i in range(30)]
    clean = [fake_style(x) for x in inputs]
    smoother = TemporalSmoother("fast", 0.5)
    out = smooth(smoother, inputs, clean)
    assert smoother.cuts == 0
    lag = lambda a, b: abs(float(a.mean()) - float(b.mean()))  # noqa: E731
    assert lag(clean[-1], clean[0]) > 10  # the light changed this much...
    assert lag(out[-1], clean[-1]) < 0.5 * lag(clean[-1], clean[0])  # ...and the output went along (frozen: 1.0)


def test_an_object_appearing_is_fresh_and_a_fade_from_black_starts_over(photo):
    inputs = still_scene(photo, 6)
    inputs[4] = inputs[4].copy()
    inputs[4][50:110, 120:200] = (230, 40, 40)  # appears at frame 4
    inputs = [np.zeros_like(inputs[0])] + inputs  # the clip fades in from black
    noisy = flicker([fake_style(x) for x in inputs])
    smoother = TemporalSmoother("fast", 0.8)
    out = smooth(smoother, inputs, noisy)
    assert smoother.cuts == 1 and np.array_equal(out[1], noisy[1])  # black -> picture: nothing carried over
    inner = (slice(56, 104), slice(126, 194))  # inside the object, away from the feathered edge
    assert np.array_equal(out[5][inner], noisy[5][inner])  # its pixels are its own, not blended
    assert np.array_equal(out[5][:25], out[4][:25])  # while the still background away from it stays held


def lite(inputs: list[np.ndarray]) -> list[np.ndarray]:
    """What `--lite` makes: a flickering stylization of the frame at half size, brought back to the
    frame's size with the frame's own detail."""
    return [at_reduced_size(x[None], 0.5, 4, lambda small, i=i: np.stack(flicker([fake_style(small[0])], i)))[0]
            for i, x in enumerate(inputs)]


def test_a_lite_stylization_is_smoothed_at_the_analysis_size(photo):
    """The network ran at half size (`styled_at` 0.5): the smoother works at its 320-px analysis
    size and adds back only what it changed there (a quarter of the pixels). As steady as smoothing
    at full size, and the frame's finer detail stays the fresh frame's."""
    big = cv2.resize(photo, (960, 540), interpolation=cv2.INTER_CUBIC)
    inputs = [np.ascontiguousarray(big[90:450, i * 6:i * 6 + 640]) for i in range(16)]  # a pan, 6 px a frame
    styled = lite(inputs)

    def run(styled_at):
        smoother = TemporalSmoother("fast", 0.7)
        return [smoother(Frame(i, s.copy(), original=x, styled_at=styled_at)).image
                for i, (x, s) in enumerate(zip(inputs, styled))]

    full, coarse = run(1.0), run(0.5)
    before = temporal_error(styled, 6)
    assert temporal_error(coarse, 6) < 0.5 * before and temporal_error(coarse, 6) < 1.2 * temporal_error(full, 6)

    def fine(a, b):  # what of the change smoothing made the analysis size cannot hold
        d = a.astype(np.float32) - b
        there = cv2.resize(cv2.resize(d, (320, 180), interpolation=cv2.INTER_AREA), (640, 360),
                           interpolation=cv2.INTER_CUBIC)
        return float(np.abs(d - there).mean())

    assert np.mean([fine(c, s) for c, s in zip(coarse[4:], styled[4:])]) < 0.6 * np.mean(
        [fine(f, s) for f, s in zip(full[4:], styled[4:])])


def test_lite_smoothing_changes_size_without_starting_over_and_keeps_new_things_fresh(photo):
    """Live's quality ladder can move the network across the analysis size mid-stream: the smoother
    carries on at the new size. Something appearing keeps its fresh pixels exactly, as at full size."""
    rng = np.random.default_rng(5)
    inputs = [np.clip(photo + rng.normal(0, 1.5, photo.shape), 0, 255).astype(np.uint8) for _ in range(10)]
    inputs[8] = inputs[8].copy()
    inputs[8][100:220, 240:400] = (230, 40, 40)  # appears at frame 8
    styled = lite(inputs)
    smoother = TemporalSmoother("fast", 0.8)
    out = [smoother(Frame(i, s.copy(), original=x, styled_at=1.0 if i < 4 else 0.5)).image
           for i, (x, s) in enumerate(zip(inputs, styled))]
    assert smoother.cuts == 0 and frame_change(out[2:8]) <= 0.2 * frame_change(styled[2:8]), (
        frame_change(out[2:8]), frame_change(styled[2:8]))
    inner = (slice(100, 220), slice(240, 400))  # all of it, to its edges
    assert np.array_equal(out[8][inner], styled[8][inner])


def test_the_pipeline_tells_the_smoother_the_networks_scale():
    from rtstyle.backends import load_backend
    from rtstyle.pipeline import Inference

    stage = Inference(load_backend("starry", lite=True))  # half size from 360 lines up
    frames = stage.process([Frame(0, np.zeros((360, 640, 3), np.uint8)), Frame(1, np.zeros((120, 160, 3), np.uint8))])
    assert [f.styled_at for f in frames + stage.flush()] == [0.5, 1.0]


def test_warping_error_is_measured_within_shots(photo):
    """A pair across a cut (a fade from black here) has no motion to follow: it is left out of
    the mean, where its error, many times any other, would swamp it, and listed."""
    from rtstyle.temporal.evaluate import evaluate

    inputs = [np.zeros((SIZE[1], SIZE[0], 3), np.uint8)] + pan(photo, 8)
    styled = iter(flicker([fake_style(x) for x in inputs]))
    report = evaluate((Frame(i, x) for i, x in enumerate(inputs)), lambda image: next(styled),
                      TemporalSmoother("fast", 0.5), every=100)
    w, pf = report.warping_error, report.per_frame
    assert w["cuts"] == [1] and len(pf["warping_error_off"]) == 8
    assert w["off"] == pytest.approx(np.mean(pf["warping_error_off"][1:]))
    assert w["on"] == pytest.approx(np.mean(pf["warping_error_on"][1:]))
    assert pf["warping_error_off"][0] > 5 * w["off"] and "leaving out 1 pair(s) across a cut" in report.summary()
    # mostly repeated frames (median 0): a small motion among them is no cut
    inputs = pan(photo, 1) * 4 + pan(photo, 2)
    styled = iter([fake_style(x) for x in inputs])
    report = evaluate((Frame(i, x) for i, x in enumerate(inputs)), lambda image: next(styled),
                      TemporalSmoother("fast", 0.5), every=100)
    assert report.warping_error["cuts"] == [] and "across a cut" not in report.summary()


def test_composite_keeps_flagged_pixels_at_any_analysis_size():
    rng = np.random.default_rng(1)
    fresh, previous = (rng.integers(0, 256, (90, 160, 3), dtype=np.uint8) for _ in range(2))
    occluded = np.zeros((45, 80), bool)
    occluded[10:30, 20:50] = True
    motion = Motion(np.full((45, 80, 2), 0.7, np.float32), np.where(occluded, 0, 1).astype(np.float32), occluded)
    out = composite(fresh, previous, motion, 1.0)
    full = cv2.resize(occluded.astype(np.uint8), (160, 90), interpolation=cv2.INTER_NEAREST) > 0
    assert np.array_equal(out[full], fresh[full])
    assert np.abs(out[~full].astype(int) - fresh[~full]).mean() > 20


def test_torch_path_matches_numpy(photo):
    """The path for frames on a GPU (run here on CPU tensors): same result within rounding and
    the NumPy path's uint8 intermediate."""
    inputs = pan(photo, 2)
    noisy = flicker([fake_style(x) for x in inputs])
    motion = analyse(small_frame(inputs[1], 160), small_frame(inputs[0], 160), DisFlow())
    hold = np.zeros(motion.trust.shape, bool)
    hold[:, :40] = motion.trust[:, :40] > 0.5  # the static-region locking map
    for held in (None, hold):
        ref = composite(noisy[1], noisy[0], motion, 0.7, held).astype(int)
        got = composite_torch(torch.from_numpy(noisy[1]), torch.from_numpy(noisy[0]), motion, 0.7, held)
        assert got.dtype == torch.uint8 and got.shape == noisy[1].shape
        d = np.abs(got.numpy().astype(int) - ref)
        assert d.mean() < 1.0 and np.percentile(d, 99) <= 4, (d.mean(), np.percentile(d, 99))
    assert np.abs(ref[:, :60] - noisy[1][:, :60]).mean() > 5  # held: the previous frame's picture


@pytest.mark.cuda
def test_torch_path_on_cuda_matches_cpu(photo):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    inputs = pan(photo, 2)
    noisy = flicker([fake_style(x) for x in inputs])
    motion = analyse(small_frame(inputs[1], 160), small_frame(inputs[0], 160), DisFlow())
    cpu = composite_torch(torch.from_numpy(noisy[1]), torch.from_numpy(noisy[0]), motion, 0.7)
    gpu = composite_torch(torch.from_numpy(noisy[1]).cuda(), torch.from_numpy(noisy[0]).cuda(), motion, 0.7)
    assert (gpu.cpu().int() - cpu.int()).abs().max() <= 1


def test_eval_temporal_writes_json_plot_and_strip(tmp_path, network, painting_files):
    steady = steady_style(network, "steady-eval", 0.3)  # a network that names its own smoothing strength
    r = run_cli("eval-temporal", str(SAMPLE_CLIP), "--style", steady, "--style-image", str(painting_files[0]),
                "--frames", "10", "--every", "4", "--height", "180", "-o", str(tmp_path / "m"), "-q")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["frames"] == 10 and report["size"] == [320, 180]
    w = report["warping_error"]
    assert 0 < w["on"] < w["off"] and len(report["per_frame"]["warping_error_on"]) == 9
    assert report["style_loss"]["on"] > 0 and len(report["per_frame"]["style_frames"]) == 2
    # no --temporal-strength: the style's own, from its metadata
    assert resolve_style(steady).meta.temporal_strength == 0.3
    assert report["temporal"] == "fast (strength 0.3)"
    plot, strip = cv2.imread(str(tmp_path / "m.png")), cv2.imread(str(tmp_path / "m_strip.png"))
    assert plot is not None and plot.std() > 10
    assert strip is not None  # two labelled rows (off, on) of six square crops
    side = strip.shape[0] // 2 - 24
    assert side >= 90 and strip.shape[1] == 6 * side
    assert "warping error" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--temporal-strength", "1.5"], "--temporal-strength must be between 0 and 1"),
    (["--frames", "1"], "needs at least 2 frames"),
])
def test_eval_temporal_bad_input_is_one_line(tmp_path, args, message):
    r = run_cli("eval-temporal", str(SAMPLE_CLIP), "-o", str(tmp_path / "m"), "-q", *args)
    assert r.returncode == (2 if "must be between" in message else 1)
    assert message in r.stderr and "Traceback" not in r.stderr


def test_hand_over_ends_on_what_a_piece_starting_fresh_holds(photo):
    """A fixed-camera stream smoothed in two pieces (Ray segments): the first dissolves its held
    areas, over the frames the second warms up on, into what the second holds, so the join does not
    jump; up to the hand-over frame its output is what it was."""
    inputs = still_scene(photo, 20)
    noisy = flicker([fake_style(x) for x in inputs])

    def run(start: int, stop: int, hand_over: tuple[int, int] | None = None) -> list[np.ndarray]:
        smoother = TemporalSmoother("fast", 0.5)
        if hand_over:
            smoother.hand_over(*hand_over)
        return [smoother(Frame(i, noisy[i].copy(), pts=i, original=inputs[i])).image for i in range(start, stop)]

    jump = lambda a, b: float(np.mean(np.abs(a.astype(np.float32) - b)))  # noqa: E731
    plain, first, second = run(0, 16), run(0, 16, hand_over=(8, 7)), run(8, 20)  # the second warms up on 8..15
    assert all(np.array_equal(a, b) for a, b in zip(first[:9], plain[:9]))
    seam, joined = jump(plain[15], second[8]), jump(first[15], second[8])  # frame 15 of one, 16 of the other
    steps = [jump(a, b) for a, b in zip(first[8:16], first[9:16])]
    assert np.array_equal(first[15], second[7]) and joined < 0.1 * seam, (joined, seam)  # frame 15 in both
    assert max(steps) < 0.5 * seam, (steps, seam)  # a dissolve, not the jump moved earlier
