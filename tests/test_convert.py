"""End to end: `rtstyle convert` / `rtstyle image` on real files, checked with ffprobe."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import decode_errors, ffprobe, fixture, run_cli, steady_style, stream
from rtstyle.convert import SAMPLE_CLIP
from rtstyle.images import read_image
from rtstyle.models import resolve_style

pytestmark = pytest.mark.usefixtures("ffmpeg_tools")


def frames_of(path: Path, n: int = 3) -> list[np.ndarray]:
    """`n` frames spread over the clip (openings are often flat titles or fades)."""
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return [frames[len(frames) * (i + 1) // (n + 1)] for i in range(n)]


def packet_times(path: Path) -> list[float]:
    """Presentation times of every video frame, sorted, in seconds."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sorted(float(p.pts * s.time_base) for p in c.demux(s) if p.pts is not None)


def audio_span(path: Path) -> float:
    """Seconds from the first audio packet's start to the last one's end (AVI has no stream duration)."""
    with av.open(str(path)) as c:  # a stream's fields are read while its container is open (PyAV >= 18.1.1)
        s = c.streams.audio[0]
        ends = [(p.pts, p.pts + (p.duration or 0)) for p in c.demux(s) if p.pts is not None and p.size]
        return float((max(e for _, e in ends) - min(b for b, _ in ends)) * s.time_base)


def assert_faithful_conversion(src: Path, out: Path, audio_codec: str | None):
    a, b = ffprobe(src), ffprobe(out)
    va, vb = stream(a, "video"), stream(b, "video")
    assert vb["codec_name"] == "h264" and vb["pix_fmt"] == "yuv420p"
    assert int(vb["nb_read_frames"]) == int(va["nb_read_frames"])
    frame = 1 / float(Fraction(va["avg_frame_rate"]))
    assert abs(float(b["format"]["duration"]) - float(a["format"]["duration"])) <= frame + 1e-3
    if audio_codec:
        assert stream(b, "audio")["codec_name"] == audio_codec
        assert abs(audio_span(out) - audio_span(src)) <= frame + 1e-3
    assert decode_errors(out) == ""
    src_frames, out_frames = frames_of(src, 3), frames_of(out, 3)
    for x, y in zip(src_frames, out_frames):
        if x.shape == y.shape:
            assert np.abs(x.astype(int) - y).mean() > 25  # clearly restyled
        assert y.std() > 15  # not a constant image


@pytest.mark.slow
@pytest.mark.parametrize("clip,args,audio", [
    ("video/cutBunny.mp4", ["--lite"], "aac"),  # the defaults run on a whole clip in test_quick_start_defaults
    ("video/cup.mp4", ["--height", "240"], "aac"),
    ("video/Megamind.avi", ["--scale", "0.5"], "ac3"),
])
def test_convert_fixture_clips(tmp_path, clip, args, audio):
    src = fixture(clip)
    out = tmp_path / "out.mp4"
    proc = run_cli("convert", src, "-o", out, "--style", "mosaic", "-q", *args, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stderr and "Traceback" not in proc.stderr
    if clip.endswith(".avi"):  # its AC3 track starts and ends on a broken frame (MANIFEST.md)
        assert "2 damaged audio packet(s) replaced by silence" in proc.stderr
    assert_faithful_conversion(src, out, audio)
    h = stream(ffprobe(out, count_frames=False), "video")["height"]
    src_h = stream(ffprobe(src, count_frames=False), "video")["height"]
    assert h == (240 if "--height" in args else src_h // 2 if "--scale" in args else src_h)  # --lite: the frame's own


def test_variable_frame_rate_timestamps_are_kept(tmp_path, short_clip, network):
    vfr = tmp_path / "vfr.mkv"
    # keep frames 0-9, then every 3rd: the gaps make the timing variable
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(short_clip), "-vf", "select='lt(n\\,10)+not(mod(n\\,3))'",
                    "-fps_mode", "vfr", "-c:v", "libx264", "-an", str(vfr)], check=True)
    out = tmp_path / "vfr_out.mp4"
    proc = run_cli("convert", vfr, "-o", out, "--style", network, "-q")
    assert proc.returncode == 0, proc.stderr
    t_in, t_out = packet_times(vfr), packet_times(out)
    assert len(t_in) == len(t_out)
    steps = np.diff(t_in)
    assert steps.max() > 1.5 * steps.min()  # the input really is variable
    assert np.abs(np.array(t_in) - np.array(t_out)).max() < 0.002


def test_rotation_is_kept(tmp_path, short_clip, network):
    rotated = tmp_path / "rot.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(short_clip), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                    str(rotated)], check=True)
    out = tmp_path / "rot_out.mp4"
    assert run_cli("convert", rotated, "-o", out, "--style", network, "-q").returncode == 0
    side = stream(ffprobe(out, count_frames=False), "video").get("side_data_list", [])
    assert any(abs(int(d.get("rotation", 0))) == 90 for d in side), side


def test_audio_the_container_refuses_is_reencoded_to_aac(tmp_path, short_clip, network):
    mulaw = tmp_path / "mulaw.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(short_clip), "-c:v", "copy", "-c:a", "pcm_mulaw",
                    str(mulaw)], check=True)
    out = tmp_path / "mulaw_out.mp4"
    proc = run_cli("convert", mulaw, "-o", out, "--style", network, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "to aac from pcm_mulaw" in proc.stderr
    assert stream(ffprobe(out), "audio")["codec_name"] == "aac"
    assert abs(audio_span(out) - audio_span(mulaw)) < 0.05


def test_odd_size_and_mkv_output(tmp_path, short_clip, network):
    out = tmp_path / "odd.mkv"
    proc = run_cli("convert", short_clip, "-o", out, "--style", network, "--height", "101", "-q")
    assert proc.returncode == 0, proc.stderr
    v = stream(ffprobe(out), "video")
    assert v["height"] % 2 == 0 and v["width"] % 2 == 0 and abs(v["height"] - 101) <= 1
    assert int(v["nb_read_frames"]) == 48


def test_onnxruntime_backend_convert(tmp_path, short_clip, network):
    out = tmp_path / "ort.mp4"
    proc = run_cli("convert", short_clip, "-o", out, "--style", network, "--backend", "onnxruntime", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "onnxruntime" in proc.stderr
    assert int(stream(ffprobe(out), "video")["nb_read_frames"]) == 48


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_leaves_a_playable_file(tmp_path, sig, code, network):
    src = SAMPLE_CLIP
    out = tmp_path / "partial.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "rtstyle", "convert", str(src), "-o", str(out), "--style",
                             str(network), "--crf", "30"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and sum(p.stat().st_size for p in tmp_path.iterdir()) < 20_000:
        time.sleep(0.2)  # the output grows under a temporary name (output_files) until the end
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "interrupted" in err and "Traceback" not in err
    info = ffprobe(out)
    n = int(stream(info, "video")["nb_read_frames"])
    assert 0 < n < 156
    assert decode_errors(out) == ""
    audio = float(stream(info, "audio")["duration"])
    assert abs(audio - float(stream(info, "video")["duration"])) < 0.2  # audio cut where the video stops


def test_damaged_input_converts_what_decodes(tmp_path, network):
    src = tmp_path / "faststart.mp4"  # index at the front, so a cut-off copy still opens
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(SAMPLE_CLIP), "-c", "copy", "-movflags", "+faststart",
                    str(src)], check=True, timeout=60)
    with av.open(str(src)) as c:  # cut between two packets: the data just stops, none is broken
        ends = sorted(p.pos + p.size for p in c.demux() if p.pos is not None and p.pos >= 0)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: max(e for e in ends if e <= src.stat().st_size // 2)])
    out = tmp_path / "cut_out.mp4"
    proc = run_cli("convert", cut, "-o", out, "--style", network, "--height", "120", "-q")
    assert proc.returncode == 3, proc.stderr
    assert "ends early" in proc.stderr and "Traceback" not in proc.stderr
    n = int(stream(ffprobe(out), "video")["nb_read_frames"])
    assert 30 < n < 156
    assert decode_errors(out) == ""


def test_garbled_input_reports_damage(tmp_path, network):
    data = bytearray(SAMPLE_CLIP.read_bytes())
    rng = np.random.default_rng(1)
    for offset in range(150_000, 210_000, 997):  # scribble over part of the video data
        data[offset:offset + 40] = rng.integers(0, 256, 40, dtype=np.uint8).tobytes()
    garbled = tmp_path / "garbled.mp4"
    garbled.write_bytes(bytes(data))
    out = tmp_path / "garbled_out.mp4"
    proc = run_cli("convert", garbled, "-o", out, "--style", network, "--height", "90", "-q")
    assert proc.returncode == 3, proc.stderr
    assert "damaged video" in proc.stderr and "Traceback" not in proc.stderr
    assert "truncated" not in proc.stderr  # the damage is in the middle: the file does not end early
    n = int(stream(ffprobe(out), "video")["nb_read_frames"])
    assert 100 < n <= 156 and f"holds the {n} frames" in proc.stderr
    assert decode_errors(out) == ""


def test_image_command(tmp_path, network, photo_file):
    src = photo_file
    out = tmp_path / "boat.png"
    proc = run_cli("image", src, "-o", out, "--style", network)
    assert proc.returncode == 0, proc.stderr
    a, b = read_image(src), read_image(out)
    assert a.shape == b.shape and np.abs(a.astype(int) - b).mean() > 25
    proc = run_cli("image", src, "-o", tmp_path / "small.jpg", "--style", network, "--height", "100")
    assert proc.returncode == 0 and read_image(tmp_path / "small.jpg").shape == (100, 178, 3)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    (d / "notes.txt").write_text("this is not a video\n" * 50)
    src = SAMPLE_CLIP  # index at the end: a cut-off copy has none
    (d / "truncated.mp4").write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=d=1:s=64x64", "-frames:v", "0",
                    "-c:v", "mpeg4", str(d / "zero.avi")], check=True)  # a video stream that holds no frame
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(d / "audio_only.m4a")], check=True)
    (d / "junk.pth").write_bytes(b"\x80\x02garbage" * 100)
    import torch

    torch.save({"fc.weight": torch.zeros(2, 2)}, d / "mismatched.pth")
    return {p.name: p for p in d.iterdir()}


@pytest.mark.parametrize("case,args,message", [
    ("missing file", ["convert", "nope.mp4"], "no such file"),
    ("not a video", ["convert", "{notes.txt}"], "cannot read"),
    ("truncated mp4", ["convert", "{truncated.mp4}"], "cannot read"),
    ("zero frames", ["convert", "{zero.avi}"], "no video frame"),
    ("no video stream", ["convert", "{audio_only.m4a}"], "no video stream"),
    ("output folder missing", ["convert", "VIDEO", "-o", "/nonexistent/dir/out.mp4"], "does not exist"),
    ("output is a folder", ["convert", "VIDEO", "-o", "TMP", "-y"], "is a directory"),
    ("output names a new folder", ["convert", "VIDEO", "-o", "newdir/"], "is a directory"),
    ("corrupt weights", ["convert", "VIDEO", "--style", "{junk.pth}"], "cannot load"),
    ("mismatched weights", ["convert", "VIDEO", "--style", "{mismatched.pth}"], "neither a fast_neural_style"),
    ("unknown style", ["convert", "VIDEO", "--style", "vangogh"], "unknown style"),
    ("bad codec", ["convert", "VIDEO", "--codec", "nosuchcodec"], "not available"),
    ("bad image", ["image", "{notes.txt}"], "not a readable image"),
])
def test_bad_input_is_one_line(tmp_path, bad_inputs, short_clip, case, args, message, network):
    resolved = []
    for a in args:
        if a.startswith("{"):
            a = str(bad_inputs[a.strip("{}")])
        resolved.append({"VIDEO": str(short_clip), "TMP": str(tmp_path)}.get(a, a))
    if "-o" not in resolved and resolved[0] == "convert":
        resolved += ["-o", str(tmp_path / "out.mp4")]
    if "--style" not in resolved:
        resolved += ["--style", str(network)]
    proc = run_cli(*resolved, cwd=tmp_path)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("rtstyle: error:") and message in lines[0], lines[0]
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.slow
def test_quick_start_defaults(tmp_path, network):
    """`rtstyle convert` with no arguments: bundled clip, default style, a fresh name each run."""
    first = run_cli("convert", "-q", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "sample_starry.mp4"
    assert_faithful_conversion(SAMPLE_CLIP, out, "aac")
    second = run_cli("convert", "-q", "--height", "90", cwd=tmp_path)
    assert second.returncode == 0 and (tmp_path / "sample_starry-1.mp4").exists()
    steady = steady_style(network, "steady-listed", 0.3)
    listing = run_cli("styles", check=True).stdout
    lines = {line.split()[0]: line for line in listing.splitlines() if line.strip()}
    for name in ("starry", "udnie", "stained_glass"):
        assert lines[name].split()[1] == "built-in"
    # a preset shows its defaults: stroke size, strength, and the smoothing strength measured for it
    starry = resolve_style("starry").meta
    assert "strokes at 512 px" in lines["starry"] and f"smoothing {starry.temporal_strength:g}," in lines["starry"]
    assert f"strength {float(resolve_style('candy').meta.extra['strength']):g}," in lines["candy"]
    assert "smoothing 0.3," in lines[steady]  # a style's own default strength


EARLY_CLOSE = """
import sys
import av.logging
from rtstyle.convert import SAMPLE_CLIP
from rtstyle.sources import VideoFileSource
av.logging.set_level(av.logging.ERROR)  # PyAV's log callback, as the command line installs it
for i in range(100):
    source = VideoFileSource(SAMPLE_CLIP)
    for k, frame in enumerate(source):
        if k == 2 + i % 5:
            break
    source.close()
print("closed", i + 1)
"""


def test_early_close_does_not_hang():
    """Sources closed mid-stream, as stop/--frames/live do. With frame-threaded decoding this
    deadlocked within 50 rounds every time (PyAV's log callback vs the GIL on teardown)."""
    proc = subprocess.run([sys.executable, "-c", EARLY_CLOSE], capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0 and "closed 100" in proc.stdout, proc.stderr[-2000:]


def test_a_source_closed_mid_iteration_ends_it():
    """close() between two frames, or from another thread while one is read, ends the iteration
    (PyAV >= 18.1.1 raised AssertionError demuxing the closed container); closing twice is harmless."""
    from rtstyle.sources import VideoFileSource

    source = VideoFileSource(SAMPLE_CLIP, loop=True)
    frames = iter(source)
    next(frames)
    source.close()
    assert len(list(frames)) <= 1  # what the last packet read decodes to
    source.close()
    assert list(source) == []
    errors: list[BaseException] = []

    def read(s: VideoFileSource) -> None:
        try:
            for _ in s:
                pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for i in range(10):
        source = VideoFileSource(SAMPLE_CLIP, loop=True)
        reader = threading.Thread(target=read, args=(source,))
        reader.start()
        time.sleep(0.01 * i)
        source.close()
        reader.join(10)
        assert not reader.is_alive() and not errors, errors


@pytest.mark.parametrize("size", ["1x1", "2x2", "10x10", "64x4"])
def test_frames_too_small_for_optical_flow_convert_unsmoothed(tmp_path, size):
    """DIS flow needs 12 px a side: smaller frames pass the smoother untouched, not crash it."""
    src = tmp_path / f"tiny_{size}.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=24", "-t", "1",
                    "-c:v", "ffv1", str(src)], check=True, timeout=60)
    out = tmp_path / "out.mp4"
    proc = run_cli("convert", src, "-o", out, "--style", "mosaic", "-q")
    assert proc.returncode == 0, proc.stderr
    assert int(stream(ffprobe(out), "video")["nb_read_frames"]) == 24


def test_vorbis_goes_into_mp4_as_aac_and_x265_is_quiet(tmp_path):
    """FFmpeg's MP4 muxer takes Vorbis, few players play it: re-encoded like other misfits.
    libx265 logs two dozen info lines by default: -q means quiet."""
    src = tmp_path / "vorbis.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x96:rate=24", "-f", "lavfi",
                    "-i", "sine=d=1", "-t", "1", "-c:v", "libx264", "-c:a", "libvorbis", str(src)], check=True,
                   timeout=60)
    out = tmp_path / "o.mp4"
    proc = run_cli("convert", src, "-o", out, "--style", "mosaic", "-q", "--codec", "libx265")
    assert proc.returncode == 0, proc.stderr
    assert stream(ffprobe(out), "audio")["codec_name"] == "aac" and "to aac from vorbis" in proc.stderr
    assert stream(ffprobe(out), "video")["codec_name"] == "hevc"
    assert proc.stderr.strip().count("\n") == 0, proc.stderr  # the summary line alone
