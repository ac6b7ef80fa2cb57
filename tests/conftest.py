"""Shared test helpers: fixture lookup, isolated user folders, training content, the CLI, ffprobe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", ROOT.parent / "shared" / "fixtures"))
REQUIRE_FIXTURES = os.environ.get("RTSTYLE_REQUIRE_FIXTURES") == "1"


def fixture(rel: str) -> Path:
    """Path of a shared fixture; skip (or fail, in CI) when it is missing."""
    path = FIXTURES / rel
    if not path.exists():
        msg = f"fixture {rel} not found under {FIXTURES} (set RTSTYLE_FIXTURES)"
        if REQUIRE_FIXTURES:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


NC16 = "weights/fast_neural_style_nc16"
NC8 = "weights/fast_neural_style_nc8"
MOSAIC8 = f"{NC8}/mosaic_nc8_b1_e2_1e05_1e10.model"


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_dirs(tmp_path_factory):
    """Keep tests out of the real ~/.local/share and ~/.cache; share the ONNX cache across tests."""
    base = tmp_path_factory.mktemp("xdg")
    old = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CACHE_HOME")}
    os.environ["XDG_DATA_HOME"] = str(base / "data")
    os.environ["XDG_CACHE_HOME"] = str(base / "cache")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def content_dir(tmp_path) -> Path:
    """A folder of three small random images: content for tiny training runs."""
    d = tmp_path / "content"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(d / f"{i}.png"), rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    return d


def steady_style(name: str, strength: float) -> str:
    """A user style (the fixture nc8 mosaic network) that names its own smoothing strength, as
    networks fine-tuned for stability do; the built-in presets name none. Returns its name."""
    from rtstyle.models.formats import load_style, save_style
    from rtstyle.models.registry import import_style

    style = import_style(fixture(MOSAIC8), name)
    state, meta = load_style(style.path)
    meta.extra["temporal_strength"] = f"{strength:g}"
    save_style(style.path, state, meta, half=False)
    return name


def run_cli(*args: str, timeout: float = 300, cwd: Path | None = None, check: bool = False):
    proc = subprocess.run([sys.executable, "-m", "rtstyle", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"rtstyle {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def ffprobe(path: Path, count_frames: bool = True) -> dict:
    """ffprobe's JSON for streams (with decoded frame counts) and format."""
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format"]
    if count_frames:
        cmd.append("-count_frames")
    out = subprocess.run([*cmd, str(path)], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def stream(info: dict, kind: str) -> dict:
    found = [s for s in info["streams"] if s["codec_type"] == kind]
    assert found, f"no {kind} stream"
    return found[0]


def decode_errors(path: Path) -> str:
    """What ffmpeg prints when decoding the whole file; empty means it decoded cleanly."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True,
                         text=True, timeout=300)
    return out.stderr.strip() + ("" if out.returncode == 0 else f" (exit {out.returncode})")


def make_clip(path: Path, seconds: float = 2.0, size: str = "320x180", rate: int = 24) -> Path:
    """A test pattern with a tone: H.264 + AAC in whatever container `path` names."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", str(seconds),
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
                   check=True, timeout=60)
    return path


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """A 2 s 320x180 clip with audio, made on the fly (no fixture needed)."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture(scope="session")
def ffmpeg_tools():
    from shutil import which

    if not which("ffprobe") or not which("ffmpeg"):
        pytest.fail("ffmpeg/ffprobe are required for the end-to-end tests (./setup.sh dev installs them)")
