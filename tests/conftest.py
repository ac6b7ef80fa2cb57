"""Shared test helpers: fixture lookup, isolated user folders, training content, the CLI, ffprobe."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from shutil import which

import cv2
import numpy as np
import pytest

from servers import stop

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
    """Keep tests out of the real ~/.local/share and ~/.cache. The cache (ONNX exports, style
    statistics: content-keyed, written whole) is the whole run's, shared by the xdist workers,
    whose base folders are siblings, so each network is exported once; the user's library stays
    the worker's own."""
    base = tmp_path_factory.mktemp("xdg")
    run = tmp_path_factory.getbasetemp()
    run = run.parent if os.environ.get("PYTEST_XDIST_WORKER") else run
    old = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CACHE_HOME")}
    os.environ["XDG_DATA_HOME"] = str(base / "data")
    os.environ["XDG_CACHE_HOME"] = str(run / "xdg-cache")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def tmpfs(tmp_path):
    """`tmpfs("64k")` mounts a tmpfs of that size and returns it: a disk that fills up. Needs the
    right to mount (root or CAP_SYS_ADMIN); unmounted after the test."""
    mounted = []

    def mount(size: str) -> Path:
        mnt = tmp_path / f"tmpfs{len(mounted)}"
        mnt.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                          capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)")
        mounted.append(mnt)
        return mnt

    yield mount
    for mnt in mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


@pytest.fixture
def rtstyle_log(caplog, monkeypatch):
    """`caplog` holding the "rtstyle" logger's records from INFO up, even after a CLI run in this
    process (its `setup_logging` stops them propagating to the root logger, where caplog listens)."""
    monkeypatch.setattr(logging.getLogger("rtstyle"), "propagate", True)
    caplog.set_level(logging.INFO, logger="rtstyle")
    return caplog


@pytest.fixture
def content_dir(tmp_path) -> Path:
    """A folder of three small random images: content for tiny training runs."""
    d = tmp_path / "content"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(d / f"{i}.png"), rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    return d


@pytest.fixture(scope="session")
def one_photo(photo_file, tmp_path_factory) -> Path:
    """--eval-photos for tiny training runs whose closing report is not what is tested: one photo
    rather than the bundled clip's four, a quarter of the report's VGG passes."""
    folder = tmp_path_factory.mktemp("one_photo")
    (folder / photo_file.name).symlink_to(photo_file)
    return folder


# --- data the tests make or the package ships: no third-party file needed ---------------------

@pytest.fixture(scope="session")
def network(tmp_path_factory) -> Path:
    """A style file given by path, as a user's own network would be: the `mosaic` preset's
    condition under another name, with no defaults of its own (strength, stroke size, smoothing).
    It paints like a real style network, and ships with the package. The third-party checkpoints
    (fixtures) stay for the tests of their formats."""
    from rtstyle.models.formats import StyleMeta, load_style, save_style
    from rtstyle.models.library import resolve_style

    state, meta = load_style(resolve_style("mosaic").path)
    path = tmp_path_factory.mktemp("network") / "net.safetensors"
    save_style(path, state, StyleMeta(name="net", architecture=meta.architecture, width=0, num_residual=0,
                                      input_range=meta.input_range, provenance="tests/conftest.py"), half=False)
    return path


@pytest.fixture(scope="session")
def fixed_onnx(network, tmp_path_factory) -> Path:
    """`network` exported to ONNX at a fixed 256x256 (`rtstyle export`, static): a model that
    takes one input size only, as many published ONNX style models do."""
    from rtstyle.models.export import ExportSpec, export_style
    from rtstyle.models.library import resolve_style

    path = tmp_path_factory.mktemp("onnx") / "net_256x256.onnx"
    export_style(resolve_style(str(network)), path, ExportSpec(height=256, width=256, dynamic=False))
    return path


@pytest.fixture(scope="session")
def transformer_net(tmp_path_factory) -> Path:
    """A TransformerNet (width 8, seeded weights) saved as pytorch/examples saves checkpoints (a
    plain state_dict): for what depends on the architecture or the format, not on the look (its
    output is near black)."""
    import torch

    from rtstyle.models.transformer_net import TransformerNet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("transformer_net") / "net8.pth"
    torch.save(TransformerNet(width=8).state_dict(), path)
    return path


@pytest.fixture(scope="session")
def photo_file(tmp_path_factory) -> Path:
    """A real photo-like picture: frame 40 of the bundled sample clip (640x360), as a PNG."""
    from rtstyle.convert import sample_frames
    from rtstyle.images import write_image

    path = tmp_path_factory.mktemp("photo") / "photo.png"
    write_image(path, sample_frames((40,))[0])
    return path


def painting(name: str = "stained_glass") -> np.ndarray:
    """A painting the project draws itself (tools/make_style_image.py: stained_glass, brush_strokes)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import make_style_image

    return getattr(make_style_image, name)()


@pytest.fixture(scope="session")
def painting_files(tmp_path_factory) -> tuple[Path, Path]:
    """Two style images (the project's own drawings) as PNG files."""
    from rtstyle.images import write_image

    folder = tmp_path_factory.mktemp("paintings")
    paths = (folder / "stained_glass.png", folder / "brush_strokes.png")
    for path in paths:
        write_image(path, painting(path.stem))
    return paths


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory) -> Path:
    """2 s of the bundled sample clip at 320x180, its AAC audio copied: 48 frames."""
    from rtstyle.convert import SAMPLE_CLIP

    out = tmp_path_factory.mktemp("clips") / "short.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(SAMPLE_CLIP), "-t", "2", "-vf", "scale=320:180",
                    "-c:v", "libx264", "-c:a", "copy", str(out)], check=True, timeout=60)
    return out


def steady_style(network: Path, name: str, strength: float) -> str:
    """A user style (`network` imported) that names its own smoothing strength, as networks
    fine-tuned for stability do. Returns its name."""
    from rtstyle.models.formats import load_style, save_style
    from rtstyle.models.importing import import_style

    style = import_style(network, name)
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
    if not which("ffprobe") or not which("ffmpeg"):
        pytest.fail("ffmpeg/ffprobe are required for the end-to-end tests (./setup.sh dev installs them)")


@pytest.fixture(scope="session")
def gst():
    if not which("gst-launch-1.0") or subprocess.run(
            ["/usr/bin/python3", "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
            capture_output=True).returncode:
        pytest.fail("GStreamer's RTSP server is required (./setup.sh dev installs it)")


@pytest.fixture(scope="session")
def xvfb():
    """An Xvfb display (":N") for the tests of the live window, stopped at the end."""
    for tool in ("Xvfb", "xdotool"):
        if not which(tool):
            pytest.fail(f"{tool} is required for the live-window tests (./setup.sh dev installs it)")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # Xvfb writes its display number once it accepts clients
    yield f":{number}"
    stop(proc)
