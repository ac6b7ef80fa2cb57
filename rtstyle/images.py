"""Still-image reading and writing (RGB uint8 HWC), with one-line errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import RtstyleError
from .output_files import write_whole

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise RtstyleError(f"{path}: no such file")
    data = np.fromfile(str(path), dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise RtstyleError(f"{path}: not a readable image")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def encode_image(rgb: np.ndarray, path: str | Path) -> bytes:
    """`rgb` in the format `path`'s extension names (PNG without one)."""
    try:
        ok, buf = cv2.imencode(Path(path).suffix or ".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    except cv2.error:
        ok = False
    if not ok:
        raise RtstyleError(f"{path}: cannot encode an image with this extension")
    return buf.tobytes()


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """`rgb` to `path`, replacing what is there, whole or not at all (`output_files`)."""
    write_whole(path, encode_image(rgb, path), overwrite=True)


def resize_long_side(rgb: np.ndarray, long_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = long_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
