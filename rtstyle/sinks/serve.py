"""`--serve rtsp://HOST:PORT/NAME`: rtstyle is the RTSP server itself.

GStreamer's RTSP server runs in a helper process under the system Python (see
gst_rtsp_server.py); rtstyle sends it MPEG-TS over UDP on loopback and it serves that
to every viewer that connects.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections import deque
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import RtstyleError
from .encode import EncoderSettings
from .publish import StreamSink

HELPER = Path(__file__).with_name("gst_rtsp_server.py")
NEEDS = ("GStreamer's RTSP server (Debian: gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi "
         "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)")


def system_python() -> str:
    """A Python with the distribution's GObject bindings (not this virtual environment's)."""
    for candidate in ("/usr/bin/python3", shutil.which("python3", path=os.defpath)):
        if candidate and Path(candidate).exists() and Path(candidate).resolve() != Path(sys.executable).resolve():
            return candidate
    return sys.executable


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RtspServer:
    """The helper process, serving at `url` what arrives on `udp_port` (or an H.264 MP4 `file`)."""

    def __init__(self, url: str, *, file: Path | None = None, start_timeout: float = 15.0):
        parts = urlsplit(url)
        if parts.scheme != "rtsp" or not parts.hostname or not parts.path.strip("/"):
            raise RtstyleError(f"--serve {url}: expected rtsp://HOST:PORT/NAME")
        self.url, self.udp_port = url, None if file else free_udp_port()
        media = ["--file", str(file)] if file else ["--udp", str(self.udp_port)]
        cmd = [system_python(), str(HELPER), "--host", parts.hostname, "--port", str(parts.port or 8554),
               "--mount", parts.path, *media]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Both pipes are read for the helper's whole life: a full pipe would stall it mid-stream.
        self.errors: deque[str] = deque(maxlen=20)  # its last words, for the error line
        self.started, ready = False, threading.Event()
        drains = [threading.Thread(target=self._drain, args=(self.proc.stdout, ready), daemon=True),
                  threading.Thread(target=self._drain, args=(self.proc.stderr, None), daemon=True)]
        for t in drains:
            t.start()
        ready.wait(start_timeout)
        if not self.started:
            self.close()
            drains[1].join(5)
            reason = next((line for line in reversed(self.errors) if line), "no answer")
            if self.proc.returncode == 3:
                raise RtstyleError(f"--serve needs {NEEDS}: {reason}")
            raise RtstyleError(f"--serve {url}: the RTSP server did not start: {reason}")

    def _drain(self, pipe, ready: threading.Event | None) -> None:
        """Read `pipe` to its end. stdout: its "ready" line, or its end (the helper gave up), sets
        `ready`; stderr: the lines go to `errors`."""
        for line in pipe:
            if ready is None:
                self.errors.append(line.strip())
            elif line.strip() == "ready":
                self.started = True
                ready.set()
        if ready is not None:
            ready.set()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ServedSink(StreamSink):
    """A stream sink feeding an `RtspServer`; closing it stops the server."""

    def __init__(self, url: str, settings: EncoderSettings | None = None, rate: Fraction = Fraction(25)):
        self.server = RtspServer(url)
        try:
            super().__init__(f"udp://127.0.0.1:{self.server.udp_port}?pkt_size=1316", settings, rate)
        except BaseException:
            self.server.close()
            raise
        self.name = url

    def close(self, truncated: bool = False) -> None:
        try:
            super().close(truncated)
        finally:
            self.server.close()
