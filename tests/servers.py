"""Real servers on 127.0.0.1 for the stream tests, started on free ports and stopped by PID."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether a TCP socket listens on `port`, read from /proc (no connection is made)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not listening(port):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on port {port} after {timeout} s")
        time.sleep(0.05)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 5) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def gst_file_server(clip: Path, port: int, mount: str = "/clip") -> subprocess.Popen:
    """GStreamer's RTSP server (rtstyle's own helper) serving `clip`; its process, once it listens."""
    from rtstyle.sinks.serve import RtspServer

    return RtspServer(f"rtsp://127.0.0.1:{port}{mount}", file=clip).proc


def ffmpeg_receiver(port: int, out: Path) -> subprocess.Popen:
    """`ffmpeg -rtsp_flags listen` waiting for one publisher; copies what it gets to `out` (MPEG-TS)."""
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-rtsp_flags", "listen",
                             "-i", f"rtsp://127.0.0.1:{port}/x", "-c", "copy", "-f", "mpegts", str(out)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_listening(port, proc)
    return proc


class RtstyleServer:
    """`rtstyle serve` in its own process on a free loopback port; `url(path)`, `stop()`, `restart()`."""

    def __init__(self, data: Path, *args: str, port: int | None = None, timeout: float = 60):
        self.data, self.args, self.timeout = data, args, timeout
        self.port = port or free_port()
        self.log = data.parent / f"{data.name}-server.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        import sys

        cmd = [sys.executable, "-m", "rtstyle", "serve", "--port", str(self.port), "--data", str(self.data),
               "--log-level", "warning", *self.args]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        while not listening(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"rtstyle serve exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                stop(self.proc)
                raise TimeoutError(f"rtstyle serve: nothing listens on {self.port} after {self.timeout} s")
            time.sleep(0.05)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc:
            stop(self.proc, sig, timeout=20)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> "RtstyleServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
