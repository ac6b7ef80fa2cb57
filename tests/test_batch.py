"""`rtstyle batch` here and on a real local Ray cluster: segments joined into what `convert`
makes (frames, timestamps, audio), a killed worker retried, a bad file reported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import decode_errors, ffprobe, fixture, run_cli, stream
from rtstyle.convert import SAMPLE_CLIP

pytestmark = pytest.mark.usefixtures("ffmpeg_tools")


def packet_times(path: Path) -> list[float]:
    """The video's presentation times, sorted (packets come in decoding order)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
    return sorted(float(t.strip(",")) for t in out.split())


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """The bundled clip with a keyframe every second (so it splits), two fixture clips (an AVI runs
    as one segment), and a bad file."""
    d = tmp_path_factory.mktemp("library")
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(SAMPLE_CLIP), "-c:v", "libx264", "-g", "24", "-c:a", "copy",
                    str(d / "sample.mp4")], check=True, timeout=120)
    (d / "cup.mp4").symlink_to(fixture("video/cup.mp4"))
    (d / "Megamind.avi").symlink_to(fixture("video/Megamind.avi"))
    (d / "notes.mp4").write_text("not a video\n")
    return d


@pytest.fixture(scope="module")
def local_outputs(library, network, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The library converted here, with a style given as a file (on Ray it travels by the object store)."""
    out = tmp_path_factory.mktemp("local")
    proc = run_cli("batch", library, "-o", out, "--style", network, "--height", "96", timeout=300)
    return out, proc


def test_local_batch_converts_every_file_and_reports_the_bad_one(library, local_outputs):
    out, proc = local_outputs
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text  # one file failed
    assert "3 of 4 converted, 1 failed" in text and "notes.mp4: cannot read" in text and "Traceback" not in text
    for name, frames in (("sample_net.mp4", 156), ("cup_net.mp4", 217), ("Megamind_net.mp4", 270)):
        info = ffprobe(out / name)
        assert int(stream(info, "video")["nb_read_frames"]) == frames


def _ray_workers(pattern: str = "ray::segment_task") -> list[int]:
    """Ray worker processes running a segment now (a worker's title names its task; idle: ray::IDLE)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "cmdline").read_bytes().startswith(pattern.encode()):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.mark.slow
def test_ray_segments_join_into_what_convert_makes_even_when_a_worker_dies(library, local_outputs, network,
                                                                           tmp_path):
    """On a local Ray cluster, with a worker killed mid-segment: the same frames, timestamps and
    audio as `rtstyle convert`, the bad file reported, nothing left behind."""
    local, _ = local_outputs
    out = tmp_path / "ray"
    cmd = [sys.executable, "-m", "rtstyle", "batch", str(library), "-o", str(out), "--style", str(network),
           "--height", "96", "--ray", "--segment-seconds", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = []

    def kill_one():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not killed:
            for pid in _ray_workers():
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                except ProcessLookupError:
                    continue
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one)
    killer.start()
    try:
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        killer.join()
    text = stdout + stderr
    assert killed, "no worker was running a segment"
    assert proc.returncode == 1 and "3 of 4 converted, 1 failed" in text, text
    assert "ok (4 segments)" in text and "ok (1 segment)" in text  # cup.mp4 (8 s) in 2 s segments; the AVI whole
    for name in ("sample_net.mp4", "cup_net.mp4", "Megamind_net.mp4"):
        ours, theirs = ffprobe(out / name), ffprobe(local / name)
        assert stream(ours, "video")["nb_read_frames"] == stream(theirs, "video")["nb_read_frames"]
        assert packet_times(out / name) == packet_times(local / name)
        assert stream(ours, "audio")["duration"] == stream(theirs, "audio")["duration"]
        assert decode_errors(out / name) == ""
    assert not list(out.glob(".rtstyle-parts*"))
    deadline = time.monotonic() + 15
    while _ray_workers("ray::") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _ray_workers("ray::"), "the local cluster outlived the batch"


def test_segments_are_cut_at_keyframes_and_warm_up_before_their_start(library):
    from rtstyle.cluster.segments import plan

    segments = plan(library / "sample.mp4", seconds=2)
    assert len(segments) == 3 and segments[0].decode is None  # 6.5 s: at 0, 2 and 4 s
    times = packet_times(library / "sample.mp4")
    tb = Fraction(stream(ffprobe(library / "sample.mp4", count_frames=False), "video")["time_base"])
    for before, after in zip(segments, segments[1:]):
        assert before.end == after.start and after.decode < after.warm < after.start
        assert (before.hand_over, before.hand_over_frames) == (after.warm, 7)  # over the next one's warm-up
    assert segments[-1].hand_over is None
    assert len([t for t in times if segments[1].warm * tb <= t < segments[1].start * tb]) == 8
    assert len(plan(fixture("video/Megamind.avi"), seconds=2)) == 1  # AVI counts frames: one segment
