"""What clients send: forms with files, JSON with a URL. Types are told from the content, never
from the name or the Content-Type a client claims; sizes are capped while reading."""

from __future__ import annotations

import contextlib
import io
import ipaddress
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import Callable
from urllib.parse import urlsplit

import cv2
import numpy as np
from fastapi import Request
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from .http import STORAGE_ERRORS, ApiError

IMAGE_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "BMP": "BMP", "TIFF": "TIFF"}
MAX_PIXELS = 50_000_000  # about 8K x 6K: a bigger picture is refused before it is decoded
URL_SCHEMES = ("http", "https")
FETCH_TIMEOUT = 20.0  # s of silence from a server we fetch from
IMAGE_DEADLINE, VIDEO_DEADLINE = 60.0, 6 * 3600.0  # s a whole image or video may take to arrive
MAX_FILES, MAX_FIELDS = 2, 20  # what a form may hold: a picture or video and a style image, the options


class SpoolingParser(MultiPartParser):
    """Starlette's multipart parser, its uploads spooled in `spool`. Starlette's own go to the
    process's temporary folder, and only `tempfile.tempdir`, process-wide, would move them: this
    swaps each new spool file, still empty and in memory, for one in `spool`."""

    def __init__(self, *args, spool: Path, **kwargs):
        super().__init__(*args, **kwargs)
        self.spool = spool

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        upload = self._current_part.file
        if upload is not None:
            upload.file.close()
            upload.file = SpooledTemporaryFile(max_size=self.spool_max_size, dir=self.spool)
            self._files_to_close_on_error[-1] = upload.file


@contextlib.asynccontextmanager
async def form_of(request: Request, spool: Path) -> AsyncIterator[dict]:
    """The request's fields: a form's (files as Starlette `UploadFile`s, spooled in `spool`, closed
    when the route is done) or a JSON object's."""
    body = await _read_body(request, spool)
    try:
        yield dict(body)
    finally:
        if isinstance(body, FormData):
            await body.close()  # every file, a field's repeats too


async def _read_body(request: Request, spool: Path) -> dict | FormData:
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
            async with contextlib.aclosing(request.stream()) as stream:
                if kind == "multipart/form-data":
                    parser = SpoolingParser(request.headers, stream, max_files=MAX_FILES, max_fields=MAX_FIELDS,
                                            spool=spool)
                else:
                    parser = FormParser(request.headers, stream, max_fields=MAX_FIELDS)
                return await parser.parse()
        except ApiError:
            raise
        except MultiPartException as exc:
            raise ApiError(400, f"malformed form: {exc.message}") from None
        except Exception as exc:  # a malformed form: python-multipart says what
            if isinstance(exc, OSError) and exc.errno in STORAGE_ERRORS:
                raise  # spooling it to disk failed (full, read-only): the server's fault, not the form's
            raise ApiError(400, f"malformed form: {exc}") from None
    raise ApiError(415, "send multipart/form-data (a file upload) or application/json (with a url)")


def upload(form: dict, name: str) -> UploadFile | None:
    """The uploaded file `name`, or None; anything else there (a JSON value) is refused."""
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, UploadFile):
        raise ApiError(422, f"{name}: expected a file upload (multipart/form-data), got {type(value).__name__}")
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
VIDEO_CONTAINERS = "MP4, MOV, MKV, WebM, AVI, FLV, Ogg, MPEG-TS/PS"
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
        raise ApiError(415, f"video: not a video container ({VIDEO_CONTAINERS})")
    file.file.seek(0)
    with open(dst, "wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)


MAX_URL = 2048


def check_url(url: object, private: bool, schemes: tuple[str, ...] = URL_SCHEMES) -> str:
    """A URL of one of `schemes` with a host, parsed once: what the worker later dispatches on.
    Unless `private`, its host must be a public address: a server open to others must not fetch
    from the networks behind it for them (loopback, private, link-local: cloud metadata)."""
    if not isinstance(url, str) or not url:
        raise ApiError(422, "url: expected a string")
    if len(url) > MAX_URL:
        raise ApiError(422, f"url: longer than {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise ApiError(422, f"url: expected {' or '.join(s + '://HOST/...' for s in schemes)}, got {url[:80]!r}")
    if not private:
        public_host(parts.hostname)
    return url


def public_host(host: str) -> None:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        raise ApiError(422, f"url: cannot resolve {host[:80]!r}") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            raise ApiError(422, f"url: {host[:80]} is not a public address (this server fetches public ones only; "
                                f"start it with --allow-private-urls to change that)")


class _PublicRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects, each checked as the URL was: a public server must not send us inside."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        public_host(urlsplit(newurl).hostname or "")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _chunks(url: str, limit: int, what: str, deadline: float, private: bool,
            stopped: Callable[[], bool] = lambda: False):
    """The body at `url` in chunks as they arrive, cut off past `limit` bytes (a server may lie
    about its length) or `deadline` seconds, or once `stopped()`; redirects only to public hosts
    unless `private`."""
    ends = time.monotonic() + deadline
    opener = urllib.request.build_opener() if private else urllib.request.build_opener(_PublicRedirects)
    try:
        with opener.open(urllib.request.Request(url, headers={"User-Agent": "rtstyle"}),
                         timeout=FETCH_TIMEOUT) as response:
            size = 0
            while chunk := response.read1(1 << 16):  # what has arrived: a trickling server cannot block a stop
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"{what} at {url}: larger than the limit of {limit} bytes")
                if stopped():
                    raise ApiError(409, f"{what} at {url}: stopped while downloading")
                if time.monotonic() > ends:
                    raise ApiError(422, f"{what} at {url}: not fetched within {deadline:g} s")
                yield chunk
    except urllib.error.HTTPError as exc:
        raise ApiError(422, f"{what} at {url}: the server answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiError(422, f"{what} at {url}: cannot fetch it ({reason})") from None


def fetch(url: str, limit: int, private: bool, what: str = "image") -> bytes:
    """GET `url`, at most `limit` bytes, within IMAGE_DEADLINE."""
    return b"".join(_chunks(url, limit, what, IMAGE_DEADLINE, private))


def download(url: str, dst: Path, limit: int, private: bool, stopped: Callable[[], bool]) -> None:
    """GET a video at `url` into `dst` (at most `limit` bytes; until `stopped()`), refused unless it
    starts like one. The whole file first: an MP4's index is often at its end, and FFmpeg reading
    it over HTTP needs a server that answers byte ranges."""
    with open(dst, "wb") as out:
        for i, chunk in enumerate(_chunks(url, limit, "video", VIDEO_DEADLINE, private, stopped)):
            if i == 0 and not looks_like_video(chunk[:400]):
                raise ApiError(415, f"video at {url}: not a video container")
            out.write(chunk)
