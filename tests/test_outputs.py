"""Outputs are whole or absent and never an input: full disks, hard links, racing jobs,
failed and killed runs (`rtstyle.output_files`, `VideoFileSink`'s error handling)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ffprobe, run_cli
from rtstyle.errors import RtstyleError
from rtstyle.output_files import OutputFile, same_file

FAST = ("--style", "mosaic")  # any preset: these tests are about the files


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_failure(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)  # not 139: no segfault
    lines = proc.stderr.strip().splitlines()  # `stream` prints what it streams first
    assert lines[-1].startswith("rtstyle: error:") and "Traceback" not in proc.stderr, lines
    assert sum("error" in line for line in lines) == 1 and all(w in lines[-1] for w in words), lines


@pytest.fixture
def small_disk(tmpfs):
    """A 64 KiB disk that fills up during the job (where it cannot be mounted, /dev/full covers the case)."""
    return tmpfs("64k")


@pytest.mark.parametrize("command, name", [("convert", "o.mp4"), ("convert", "o.mkv"), ("stream", "o.ts")])
def test_a_disk_that_fills_up_fails_the_job_and_leaves_no_file(small_disk, clip, command, name):
    out = small_disk / name
    args = [clip, "-o", out, "-q"] if command == "convert" else [clip, "--out", out]
    # smoothing off: a held still area compresses well enough for the whole stream to fit the disk
    one_line_failure(run_cli(command, *args, *FAST, "--temporal", "off"), "no space left on device", str(out))
    assert os.listdir(small_disk) == []


def test_a_failed_overwrite_keeps_the_old_file(small_disk, clip):
    old = small_disk / "o.mp4"
    old.write_bytes(b"an earlier result" * 100)
    before = digest(old)
    one_line_failure(run_cli("convert", clip, "-o", old, "-y", *FAST), "no space left")
    assert digest(old) == before and os.listdir(small_disk) == ["o.mp4"]


def test_an_already_full_disk_is_one_line_not_a_crash(small_disk, clip, photo_file):
    (small_disk / "fill").write_bytes(b"\0" * 60_000)
    with pytest.raises(OSError):
        (small_disk / "fill2").write_bytes(b"\0" * 16_384)
    (small_disk / "fill2").unlink(missing_ok=True)
    for ext in ("mp4", "mkv"):  # the audio copy crashed PyAV here (signal 11)
        one_line_failure(run_cli("convert", clip, "-o", small_disk / f"o.{ext}", *FAST), "no space left")
    one_line_failure(run_cli("image", photo_file, "-o", small_disk / "a.png", *FAST), "No space left")
    assert os.listdir(small_disk) == ["fill"]  # no partial PNG, no empty video


def test_dev_full_behind_a_symlink_is_one_line(tmp_path, clip):
    link = tmp_path / "full.mp4"
    link.symlink_to("/dev/full")
    one_line_failure(run_cli("convert", clip, "-o", link, "-y", *FAST), "no space left")
    assert link.is_symlink() and os.readlink(link) == "/dev/full"  # written through, not replaced


@pytest.fixture
def photo_file(tmp_path) -> Path:
    import cv2
    import numpy as np

    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), cv2.GaussianBlur(np.random.default_rng(0).integers(0, 256, (90, 120, 3), np.uint8),
                                            (0, 0), 2))
    return path


def test_no_command_overwrites_its_input_under_another_name(tmp_path, clip, photo_file):
    video = tmp_path / "b.mp4"
    video.write_bytes(clip.read_bytes())
    os.link(video, tmp_path / "hard.mp4")
    (tmp_path / "soft.png").symlink_to(photo_file)
    before, photo_before = digest(video), digest(photo_file)
    one_line_failure(run_cli("convert", video, "-o", tmp_path / "hard.mp4", "-y", *FAST), "overwrite the input")
    one_line_failure(run_cli("stream", video, "--out", video, "-y", *FAST), "overwrite the input")
    one_line_failure(run_cli("image", photo_file, "-o", photo_file, "-y", *FAST), "overwrite the input")
    one_line_failure(run_cli("image", photo_file, "-o", tmp_path / "soft.png", "-y", *FAST), "overwrite the input")
    assert digest(video) == before and digest(photo_file) == photo_before
    assert same_file(video, tmp_path / "hard.mp4") and not same_file(video, tmp_path / "nothing.mp4")


def test_a_name_taken_while_the_job_ran_is_not_overwritten(tmp_path):
    target = tmp_path / "o.png"
    chosen = OutputFile(target)
    chosen.path.write_bytes(b"mine")
    target.write_bytes(b"another job's")  # appears meanwhile
    with pytest.raises(RtstyleError, match="not overwritten: the result is in .*o-1.png"):
        chosen.commit()
    assert target.read_bytes() == b"another job's" and (tmp_path / "o-1.png").read_bytes() == b"mine"
    default = OutputFile(target, default_name=True)  # a name rtstyle picked: the next free one, quietly
    default.path.write_bytes(b"third")
    assert default.commit() == tmp_path / "o-2.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o-1.png", "o-2.png", "o.png"]  # no temporary left


def test_a_job_that_fails_while_being_built_leaves_nothing_open_or_behind(tmp_path, clip):
    """A style whose metadata is broken fails after the source, the temporary output and the
    encoder are open: all of them are closed and removed again, for convert and stream alike."""
    from rtstyle.backends import load_backend
    from rtstyle.convert import VideoConversion
    from rtstyle.models.formats import load_style, save_style
    from rtstyle.models.library import resolve_style
    from rtstyle.stream_job import StreamJob

    state, meta = load_style(resolve_style("starry").path)
    meta.extra["temporal_strength"] = "7"
    bad = tmp_path / "styles" / "bad.safetensors"
    save_style(bad, state, meta, half=False)
    backend = load_backend(str(bad), "torch")
    out = tmp_path / "out"
    out.mkdir()
    open_before = len(os.listdir("/proc/self/fd"))
    for build in (lambda: VideoConversion(clip, out / "c.mp4", backend),
                  lambda: StreamJob(str(clip), str(out / "s.mkv"), backend)):
        with pytest.raises(RtstyleError, match="temporal_strength 7.0 is not between 0 and 1"):
            build()
    assert list(out.iterdir()) == []  # no temporary .part file left
    assert len(os.listdir("/proc/self/fd")) <= open_before  # the input and the encoder's file are closed


def test_two_jobs_racing_for_one_name_both_keep_their_result(tmp_path, clip):
    args = [sys.executable, "-m", "rtstyle", "convert", str(clip), "-o", "race.mp4", *FAST]
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["race-1.mp4", "race.mp4"], (files, results)
    assert sorted(rc for rc, _ in results) == [0, 1]
    assert any("the result is in race-1.mp4" in err for _, err in results)
    for name in files:
        assert int(ffprobe(tmp_path / name)["streams"][0]["nb_read_frames"]) == 48


def test_kill_9_leaves_nothing_under_the_final_name(tmp_path):
    out = tmp_path / "o.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "rtstyle", "convert", "-o", str(out), "--style", "mosaic"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".o.") for p in tmp_path.iterdir()):  # writing has started
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists()
