"""A virtual webcam: frames written to a v4l2loopback device, which Zoom, Meet, OBS and
browsers then offer as a camera.

FFmpeg's v4l2 output device (through PyAV: no GPL code of ours) writes raw yuv420p, the
format every camera consumer takes; 4:2:0 needs even sides, which the sources already
give. The device must be a V4L2 *output* (v4l2loopback's writing end): a real camera is
refused in one line, as is a missing device, with the command that makes one.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
from fractions import Fraction

import av

from ..errors import RtstyleError
from .encode import EncoderSettings, VideoFileSink

MODPROBE = "sudo modprobe v4l2loopback exclusive_caps=1 card_label=rtstyle"
RAW = EncoderSettings(codec="rawvideo", crf=None, preset=None, pix_fmt="yuv420p")

# struct v4l2_capability: driver[16] card[32] bus_info[32] version capabilities device_caps reserved[3]
_CAPABILITY = struct.Struct("16s32s32sIII3I")
VIDIOC_QUERYCAP = (2 << 30) | (_CAPABILITY.size << 16) | (ord("V") << 8) | 0  # _IOR('V', 0, v4l2_capability)
V4L2_CAP_VIDEO_OUTPUT, V4L2_CAP_DEVICE_CAPS = 0x00000002, 0x80000000


def is_v4l2_target(target: str) -> bool:
    return str(target).startswith("/dev/video")


def read_capability(raw: bytes) -> tuple[str, bool]:
    """(card name, whether the node is a video output) from a VIDIOC_QUERYCAP answer."""
    _, card, _, _, caps, device_caps, *_ = _CAPABILITY.unpack(raw)
    if caps & V4L2_CAP_DEVICE_CAPS:
        caps = device_caps  # what this node does, not the whole driver
    return card.split(b"\0")[0].decode(errors="replace"), bool(caps & V4L2_CAP_VIDEO_OUTPUT)


def check_output_device(path: str) -> str:
    """The device's card name, once it is known to be a V4L2 video output; else one line why not."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise RtstyleError(f"{path}: no such device; make a virtual webcam with: {MODPROBE}") from None
    if not stat.S_ISCHR(mode):
        raise RtstyleError(f"{path}: not a device file")
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError as exc:
        hint = " (add yourself to the 'video' group)" if exc.errno == errno.EACCES else ""
        raise RtstyleError(f"{path}: cannot open: {exc.strerror}{hint}") from None
    try:
        raw = fcntl.ioctl(fd, VIDIOC_QUERYCAP, bytes(_CAPABILITY.size))
    except OSError:
        raise RtstyleError(f"{path}: not a V4L2 device") from None
    finally:
        os.close(fd)
    name, output = read_capability(raw)
    if not output:
        raise RtstyleError(f"{path} ({name}) is a camera, not a video output: give a v4l2loopback device "
                           f"({MODPROBE})")
    return name


class V4l2Sink(VideoFileSink):
    """Raw yuv420p frames to a v4l2loopback device, one per source frame (paced by the source)."""

    def __init__(self, device: str, rate: Fraction = Fraction(25)):
        self.card = check_output_device(device)
        super().__init__(device, RAW, rate)

    def _open(self) -> av.container.OutputContainer:
        try:
            return av.open(str(self.path), "w", format="v4l2")
        except av.error.FFmpegError as exc:
            raise RtstyleError(f"{self.path}: cannot write to the device: {exc.strerror or exc}") from None

    def check_written(self) -> None:
        """A device keeps nothing to read back."""
