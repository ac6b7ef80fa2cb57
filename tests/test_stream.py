"""`rtstyle stream` against real servers on 127.0.0.1: GStreamer's RTSP server as the
camera, `ffmpeg -rtsp_flags listen` receiving what rtstyle publishes, ffprobe to check."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ffprobe, run_cli, stream
from rtstyle.convert import SAMPLE_CLIP
from servers import ffmpeg_receiver, free_port, gst_file_server, stop, wait_listening

pytestmark = pytest.mark.usefixtures("ffmpeg_tools")

STREAM = [sys.executable, "-m", "rtstyle", "stream"]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """The bundled clip twice over (13 s): a camera that is still sending when the tests cut it off."""
    out = tmp_path_factory.mktemp("long") / "long.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "1", "-i", str(SAMPLE_CLIP), "-c", "copy", str(out)],
                   check=True, timeout=60)
    return out


def started(job: subprocess.Popen, timeout: float = 60) -> None:
    """Wait for the job's "streaming" line: its model is loaded (a first run exports it to ONNX)
    and its source is open, so what the test does next happens mid-stream."""
    deadline, line = time.monotonic() + timeout, ""
    while "streaming" not in line and time.monotonic() < deadline and job.poll() is None:
        line = job.stderr.readline()
    assert "streaming" in line, (line, job.poll())


def frames_in(path) -> int:
    return int(stream(ffprobe(path), "video")["nb_read_frames"])


@pytest.mark.timeout(120)
def test_rtsp_in_rtsp_out_survives_a_source_restart(gst, tmp_path, long_clip):
    clip = long_clip
    src_port, out_port = free_port(), free_port()
    received = tmp_path / "received.ts"
    server = gst_file_server(clip, src_port)
    receiver = ffmpeg_receiver(out_port, received)
    job = subprocess.Popen([*STREAM, f"rtsp://127.0.0.1:{src_port}/clip", "--out", f"rtsp://127.0.0.1:{out_port}/x",
                            "--height", "96", "--duration", "12", "--reconnect-timeout", "20"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started(job)
        time.sleep(2)
        stop(server, signal.SIGKILL)  # the camera dies mid-stream...
        time.sleep(2)
        server = gst_file_server(clip, src_port)  # ...and comes back
        _, err = job.communicate(timeout=60)
        receiver.wait(timeout=20)
    finally:
        for p in (job, server, receiver):
            stop(p)
    assert job.returncode == 0, err
    assert "stream lost" in err and "back after" in err, err  # the gap is logged
    info = ffprobe(received)
    v = stream(info, "video")
    assert v["codec_name"] == "h264" and (int(v["width"]), int(v["height"])) == (170, 96)
    # the output ran on through the gap: it spans (nearly) the whole 12 s, not just the first 4
    assert float(info["format"]["duration"]) > 10, info["format"]
    assert int(v["nb_read_frames"]) > 30


@pytest.mark.timeout(120)
def test_file_to_stdout_mpegts_keeps_every_frame(tmp_path):
    clip = SAMPLE_CLIP
    out = tmp_path / "out.ts"
    with out.open("wb") as f:
        proc = subprocess.run([*STREAM, str(clip), "--out", "-", "--height", "96"], stdout=f,
                              stderr=subprocess.PIPE, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr
    info = ffprobe(out)
    assert info["format"]["format_name"] == "mpegts"
    assert frames_in(out) == 156  # a file source is offline: nothing dropped, ends at its end


@pytest.mark.timeout(120)
def test_realtime_file_serve_over_rtsp(gst, tmp_path):
    clip = SAMPLE_CLIP
    port = free_port()
    job = subprocess.Popen([*STREAM, str(clip), "--realtime", "--serve", f"rtsp://127.0.0.1:{port}/live",
                            "--height", "96", "--duration", "9", "--stats"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = tmp_path / "viewer.ts"
    try:
        started(job)  # printed once the server is up
        viewer = subprocess.run(["ffmpeg", "-v", "error", "-y", "-rtsp_transport", "tcp", "-i",
                                 f"rtsp://127.0.0.1:{port}/live", "-t", "3", "-c", "copy", str(got)],
                                capture_output=True, text=True, timeout=40)
        err = job.communicate(timeout=40)[1]
    finally:
        stop(job)
    assert viewer.returncode == 0, viewer.stderr
    assert frames_in(got) >= 20
    assert job.returncode == 0, err
    assert "stats summary" in err and "capture -> sink latency" in err and "dropped" in err


@pytest.mark.timeout(60)
def test_dead_endpoints_give_one_line_errors(tmp_path):
    port = free_port()  # nothing listens there
    started = time.monotonic()
    proc = run_cli("stream", f"rtsp://127.0.0.1:{port}/cam", "--out", "-", "--timeout", "2", timeout=30)
    assert proc.returncode == 1 and time.monotonic() - started < 25
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0], proc.stderr
    clip = SAMPLE_CLIP
    proc = run_cli("stream", clip, "--out", f"rtsp://127.0.0.1:{port}/x", "--height", "96", timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("rtstyle: error:") and "publishing" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("stream", "nonexistent.mp4", "--out", "-", timeout=30)
    assert proc.returncode == 1 and "no such file" in proc.stderr
    proc = run_cli("stream", clip, timeout=30)
    assert proc.returncode == 1 and "--out" in proc.stderr
    proc = run_cli("stream", "7", "--out", "-", timeout=30)  # no camera 7 on any test machine
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "camera 7" in proc.stderr, proc.stderr


@pytest.mark.timeout(90)
def test_sigint_stops_a_live_stream_promptly_and_leaves_a_playable_file(tmp_path):
    clip = SAMPLE_CLIP
    out = tmp_path / "live.ts"
    job = subprocess.Popen([*STREAM, str(clip), "--realtime", "--loop", "--out", str(out), "--height", "96"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 40
        while sum(p.stat().st_size for p in tmp_path.iterdir()) < 20_000 and time.monotonic() < deadline:
            time.sleep(0.2)  # it grows under a temporary name (output_files) until the stream ends
        job.send_signal(signal.SIGINT)
        sent = time.monotonic()
        err = job.communicate(timeout=20)[1]
        took = time.monotonic() - sent
    finally:
        stop(job)
    assert job.returncode == 130 and took < 10, err
    assert "Traceback" not in err
    assert frames_in(out) > 5


@pytest.mark.timeout(120)
def test_convert_stats_summary(tmp_path):
    clip = SAMPLE_CLIP
    proc = run_cli("convert", clip, "-o", tmp_path / "o.mp4", "--height", "96", "--stats", timeout=110)
    assert proc.returncode == 0, proc.stderr
    assert "stats:" in proc.stderr and "stats summary" in proc.stderr
    assert "frames: 156 in, 156 out, 0 dropped" in proc.stderr
    for stage in ("source", "preprocess", "inference", "postprocess", "sink"):
        assert f"  {stage}" in proc.stderr


@pytest.mark.timeout(90)
def test_a_source_that_stays_dead_ends_with_one_error_and_a_playable_file(gst, tmp_path, long_clip):
    clip = long_clip
    port = free_port()
    out = tmp_path / "partial.ts"
    server = gst_file_server(clip, port)
    job = subprocess.Popen([*STREAM, f"rtsp://127.0.0.1:{port}/clip", "--out", str(out), "--height", "96",
                            "--timeout", "2", "--reconnect-timeout", "4"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started(job)
        time.sleep(2)
        stop(server, signal.SIGKILL)
        killed = time.monotonic()
        err = job.communicate(timeout=60)[1]
        took = time.monotonic() - killed
    finally:
        stop(job)
        stop(server)
    assert job.returncode == 1 and took < 20, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("rtstyle: error:") and "giving up" in last, err
    assert "reconnect try" in err and "Traceback" not in err
    assert frames_in(out) > 3


@pytest.mark.timeout(120)
def test_http_source_plays_to_its_end_and_an_unplayable_one_gives_up(tmp_path):
    clip = SAMPLE_CLIP
    site = tmp_path / "site"
    site.mkdir()
    # Python's http.server cannot serve byte ranges, so an MP4 with its index at the end cannot
    # be read over it (FFmpeg needs to seek); MPEG-TS reads straight through.
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-c", "copy", "-f", "mpegts", str(site / "clip.ts")],
                   check=True)
    (site / "clip.mp4").write_bytes(clip.read_bytes())
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port), "--directory",
                               str(site)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(port, server)
        out = tmp_path / "out.ts"
        proc = run_cli("stream", f"http://127.0.0.1:{port}/clip.ts", "--out", out, "--height", "96",
                       "--policy", "offline", timeout=100)
        assert proc.returncode == 0, proc.stderr
        assert "stream lost" not in proc.stderr  # its end is the end, not a drop to reconnect from
        assert frames_in(out) == 156

        started = time.monotonic()
        proc = run_cli("stream", f"http://127.0.0.1:{port}/clip.mp4", "--out", tmp_path / "never.ts",
                       "--reconnect-timeout", "3", timeout=60)
        assert proc.returncode == 1 and time.monotonic() - started < 40
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("rtstyle: error:") and "giving up" in last, proc.stderr
    finally:
        stop(server)


def test_a_network_source_closed_mid_stream_or_mid_reconnect_ends(monkeypatch):
    """close() between two frames ends the iteration (PyAV >= 18.1.1 raised AssertionError reading
    the closed container); one coming while a reconnection opens its stream ends that too, and the
    new connection is closed, not used."""
    from rtstyle.sources import NetworkSource

    source = NetworkSource(str(SAMPLE_CLIP))  # FFmpeg opens a path as it opens a URL
    frames = iter(source)
    next(frames)
    source.close()
    assert len(list(frames)) <= 1  # what the last packet read decodes to
    source.close()
    assert list(source) == []

    source = NetworkSource(str(SAMPLE_CLIP))
    connect, opened = source._connect, []

    def closed_meanwhile():
        source.close()
        opened.append(connect())
        return opened[-1]

    monkeypatch.setattr(source, "_connect", closed_meanwhile)
    source._delay = 0.01
    assert source._reconnect("test") is False
    assert source.reconnects == 0 and source.container is not opened[0] and list(source) == []
    with pytest.raises(AssertionError, match="not open"):
        next(opened[0].demux())


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.timeout(120)
def test_the_rtsp_server_goes_when_rtstyle_is_killed(gst, clip):
    """kill -9 leaves no helper holding the port: the next --serve on it starts."""
    port = free_port()
    args = [*STREAM, str(clip), "--realtime", "--loop", "--serve", f"rtsp://127.0.0.1:{port}/live", "--height", "96"]
    for attempt in range(2):
        job = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            started(job)
            assert not port_free(port)
            job.kill()  # SIGKILL: no cleanup runs in rtstyle
            job.wait(10)
            deadline = time.monotonic() + 10
            while not port_free(port) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert port_free(port), "the RTSP helper outlived rtstyle"
        finally:
            stop(job)


@pytest.mark.timeout(90)
def test_a_live_recording_reaches_the_disk_as_it_goes(tmp_path, clip):
    """A low-bitrate live stream to a file used to sit in FFmpeg's 32 KiB buffer for half a
    minute; now it is on disk within seconds (under its temporary name until it ends)."""
    out = tmp_path / "rec" / "live.ts"
    out.parent.mkdir()
    job = subprocess.Popen([*STREAM, str(clip), "--realtime", "--loop", "--out", str(out), "--height", "96"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started(job)
        time.sleep(3)
        written = sum(p.stat().st_size for p in out.parent.iterdir())
        job.send_signal(signal.SIGINT)
        job.communicate(timeout=30)
    finally:
        stop(job)
    assert written > 0
    assert frames_in(out) > 20


def test_virtual_webcam_checks_and_muxer():
    """The device path itself needs the v4l2loopback kernel module, which no test machine has:
    these check everything up to it (the muxer, the ioctl layout, the one-line refusals)."""
    import av

    from rtstyle.sinks import is_stream_target
    from rtstyle.sinks.v4l2 import (_CAPABILITY, RAW, V4L2_CAP_DEVICE_CAPS, V4L2_CAP_VIDEO_OUTPUT, VIDIOC_QUERYCAP,
                                    check_output_device, read_capability)

    assert av.format.ContainerFormat("v4l2").is_output and RAW.codec == "rawvideo" and RAW.pix_fmt == "yuv420p"
    assert VIDIOC_QUERYCAP == 0x80685600 and _CAPABILITY.size == 104  # linux/videodev2.h
    assert is_stream_target("/dev/video3")
    loopback = _CAPABILITY.pack(b"v4l2 loopback", b"rtstyle", b"platform:v4l2loopback-000", 1,
                                V4L2_CAP_DEVICE_CAPS | 0x3, V4L2_CAP_VIDEO_OUTPUT, 0, 0, 0)
    camera = _CAPABILITY.pack(b"uvcvideo", b"Integrated Camera", b"usb-0000:00:14.0-8", 1,
                              V4L2_CAP_DEVICE_CAPS | 0x1, 0x1, 0, 0, 0)
    assert read_capability(loopback) == ("rtstyle", True) and read_capability(camera) == ("Integrated Camera", False)
    with pytest.raises(Exception, match="not a V4L2 device"):
        check_output_device("/dev/null")


def test_virtual_webcam_without_the_module_is_one_line(tmp_path):
    proc = run_cli("stream", tmp_path / "never-opened.mp4", "--out", "/dev/video63", timeout=60)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "no such device" in proc.stderr and "modprobe v4l2loopback" in proc.stderr
