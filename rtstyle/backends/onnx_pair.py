"""External arbitrary-style models: any image is the style, no retraining.

Magenta's arbitrary image stylization (Ghiasi et al. 2017) as an ONNX pair: a style
predictor turns a style image into a 100-d vector, and the transformer stylizes a
content frame given that vector. The vector is computed once per style image, so a
frame costs one transformer pass (plus one predictor pass on the frame itself when
`alpha` < 1: Magenta's strength control blends the style's vector with the content's
own). Several style images mix by weights in vector space.

`Backend.with_style` returns a backend bound to new style images that shares the ONNX
Runtime sessions: switching style (the live hotkey) costs one predictor run, and the
pipeline swaps it in like any other backend.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from ..errors import RtstyleError
from ..models.library import Style
from .base import FrameOf, StyleImages
from .onnx_runtime import OnnxRuntime, session_options
from .runtime import Inputs

class PairVector(StyleImages):
    """The transformer runs on `OnnxRuntime`; this feeds it the predictor's vector of the style images."""

    def __init__(self, style: Style, predictor: ort.InferenceSession, vector_name: str,
                 vector: np.ndarray | None = None, alpha: float = 1.0):
        super().__init__(style, alpha)
        self.predictor, self.vector_name, self.vector = predictor, vector_name, vector
        pin = predictor.get_inputs()[0]
        self._predict_size = (pin.shape[2], pin.shape[1])  # NHWC -> (width, height)

    @classmethod
    def create(cls, style: Style, runtime: OnnxRuntime) -> "PairVector":
        """The pair's predictor, on the transformer's providers."""
        predictor = style.path.parent / style.meta.extra["predictor"]
        try:
            session = ort.InferenceSession(str(predictor), session_options(),
                                           providers=runtime.session.get_providers())
        except Exception as exc:
            raise RtstyleError(f"{predictor}: ONNX Runtime cannot load the style predictor: "
                               f"{str(exc).splitlines()[0]}") from None
        vector_name = next(i.name for i in runtime.session.get_inputs() if i.name != runtime.input_name)
        return cls(style, session, vector_name)

    def style_vector_of(self, rgb: np.ndarray) -> np.ndarray:
        """The predictor's vector for one RGB uint8 image (resized to the predictor's input)."""
        x = cv2.resize(rgb, self._predict_size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        return self.predictor.run(None, {self.predictor.get_inputs()[0].name: x[None]})[0]

    def bound(self, images: list[np.ndarray], weights: np.ndarray, alpha: float) -> "PairVector":
        vector = sum(wi * self.style_vector_of(im) for wi, im in zip(weights, images)).astype(np.float32)
        return PairVector(self.style, self.predictor, self.vector_name, vector, alpha)

    def inputs(self, frame: FrameOf) -> Inputs:
        if self.vector is None:
            raise self.unbound()
        if self.alpha >= 1.0:
            return {self.vector_name: self.vector}
        return {self.vector_name: self.alpha * self.vector + (1.0 - self.alpha) * self.style_vector_of(frame())}
