"""What clients send: forms with files, JSON with a URL. Types are told from the content, never
from the name or the Content-Type a client claims; sizes are capped while reading."""

from __future__ import annotations

import contextlib
import io
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from fastapi import Request
from PIL import Image, UnidentifiedImageError

from .http import ApiError

IMAGE_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "BMP": "BMP", "TIFF": "TIFF"}
MAX_PIXELS = 50_000_000  # about 8K x 6K: a bigger picture is refused before it is decoded
URL_SCHEMES = ("http", "https")
FETCH_TIMEOUT = 20.0


@contextlib.asynccontextmanager
async def form_of(request: Request):
    """The request's fields (`read_form`), its uploaded files closed when the route is done."""
    try:
        yield await read_form(request)
    finally:
        await request.close()


async def read_form(request: Request) -> dict:
    """The request's fields: a form (files as Starlette `UploadFile`s) or a JSON object."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data = await request.json()
        except ValueError:
            raise ApiError(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the JSON body must be an object")
        return data
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_files=2, max_fields=20)
        except ApiError:
            raise
        except Exception as exc:  # a malformed form: Starlette says what
            raise ApiError(400, f"malformed form: {exc}") from None
        return dict(form)
    raise ApiError(415, "send multipart/form-data (a file upload) or application/json (with a url)")


def upload(form: dict, name: str):
    """The uploaded file `name`, or None."""
    value = form.get(name)
    if value is None or isinstance(value, str):
        return None
    return value


def decode_image(data: bytes, what: str = "image") -> np.ndarray:
    """RGB uint8 from an uploaded image, after checking from its bytes that it is one."""
    if not data:
        raise ApiError(422, f"{what}: empty file")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind, (w, h) = probe.format, probe.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ApiError(415, f"{what}: not an image ({', '.join(IMAGE_FORMATS.values())})") from None
    if kind not in IMAGE_FORMATS:
        raise ApiError(415, f"{what}: {kind} images are not accepted ({', '.join(IMAGE_FORMATS.values())})")
    if w * h > MAX_PIXELS:
        raise ApiError(413, f"{what}: {w}x{h} is more than {MAX_PIXELS // 1_000_000} megapixels")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ApiError(422, f"{what}: a damaged {IMAGE_FORMATS[kind]} file")
    return np.ascontiguousarray(bgr[:, :, ::-1])


# Containers FFmpeg reads, by their first bytes: (offset, magic)
VIDEO_MAGIC = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"FLV"), (0, b"OggS"), (0, b"\x00\x00\x01\xba"))


def looks_like_video(head: bytes) -> bool:
    """MP4/MOV, Matroska/WebM, AVI, FLV, Ogg, MPEG-PS or MPEG-TS, from the first 400 bytes."""
    if any(head[o:o + len(m)] == m for o, m in VIDEO_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:11] == b"AVI":
        return True
    return len(head) >= 377 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47  # MPEG-TS packets


def save_video(file, dst: Path) -> None:
    """An uploaded video to `dst`, refused (415) unless its first bytes are a video container's."""
    file.file.seek(0)
    head = file.file.read(400)
    if not looks_like_video(head):
        raise ApiError(415, "video: not a video container (MP4, MOV, MKV, WebM, AVI, FLV, Ogg, MPEG-TS/PS)")
    file.file.seek(0)
    with open(dst, "wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)


def check_url(url: object) -> str:
    if not isinstance(url, str) or not url:
        raise ApiError(422, "url: expected a string")
    scheme = url.split(":", 1)[0].lower()
    if scheme not in URL_SCHEMES:
        raise ApiError(422, f"url: {scheme}:// is not accepted here (http, https)")
    return url


def _chunks(url: str, limit: int, what: str):
    """The body at `url` in chunks, cut off past `limit` bytes (a server may lie about its length)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "rtstyle"}),
                                    timeout=FETCH_TIMEOUT) as response:
            size = 0
            while chunk := response.read(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"{what} at {url}: larger than the limit of {limit} bytes")
                yield chunk
    except urllib.error.HTTPError as exc:
        raise ApiError(422, f"{what} at {url}: the server answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiError(422, f"{what} at {url}: cannot fetch it ({reason})") from None


def fetch(url: str, limit: int, what: str = "image") -> bytes:
    """GET `url`, at most `limit` bytes."""
    return b"".join(_chunks(url, limit, what))


def download(url: str, dst: Path, limit: int, stopped: Callable[[], bool]) -> None:
    """GET a video at `url` into `dst` (at most `limit` bytes; until `stopped()`), refused unless it
    starts like one. The whole file first: an MP4's index is often at its end, and FFmpeg reading
    it over HTTP needs a server that answers byte ranges."""
    with open(dst, "wb") as out:
        for i, chunk in enumerate(_chunks(url, limit, "video")):
            if i == 0 and not looks_like_video(chunk[:400]):
                raise ApiError(415, f"video at {url}: not a video container")
            if stopped():
                raise ApiError(409, f"video at {url}: the job was stopped while downloading")
            out.write(chunk)
