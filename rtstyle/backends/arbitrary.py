"""External arbitrary-style models: any image is the style, no retraining.

Magenta's arbitrary image stylization (Ghiasi et al. 2017) as an ONNX pair: a style
predictor turns a style image into a 100-d vector, and the transformer stylizes a
content frame given that vector. The vector is computed once per style image, so a
frame costs one transformer pass (plus one predictor pass on the frame itself when
`alpha` < 1: Magenta's strength control blends the style's vector with the content's
own). Several style images mix by weights in vector space.

`with_style` returns a copy bound to new style images that shares the ONNX Runtime
sessions: switching style (the live hotkey) costs one predictor run, and the
pipeline swaps the copy in like any other backend.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np
import onnxruntime as ort

from ..errors import RtstyleError
from ..models.registry import Style
from .base import StyleImages
from .onnx_backend import OnnxBackend, session_options

ARCHITECTURE = "magenta_arbitrary"


class ArbitraryStyleBackend(StyleImages, OnnxBackend):
    """The transformer runs through `OnnxBackend`; this adds the style vector to its inputs."""

    def __init__(self, style: Style, device: str | None = None, precision: str | None = None):
        super().__init__(style, device, precision)
        predictor = style.path.parent / style.meta.extra["predictor"]
        try:
            self.predictor = ort.InferenceSession(str(predictor), session_options(),
                                                  providers=self.session.get_providers())
        except Exception as exc:
            raise RtstyleError(f"{predictor}: ONNX Runtime cannot load the style predictor: "
                               f"{str(exc).splitlines()[0]}") from None
        pin = self.predictor.get_inputs()[0]
        self._predict_size = (pin.shape[2], pin.shape[1])  # NHWC -> (width, height)
        self.vector_name = next(i.name for i in self.session.get_inputs() if i.name != self.input_name)
        self.style_vector: np.ndarray | None = None

    def style_vector_of(self, rgb: np.ndarray) -> np.ndarray:
        """The predictor's vector for one RGB uint8 image (resized to the predictor's input)."""
        x = cv2.resize(rgb, self._predict_size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        return self.predictor.run(None, {self.predictor.get_inputs()[0].name: x[None]})[0]

    def _bound(self, images: list[np.ndarray], weights: np.ndarray) -> "ArbitraryStyleBackend":
        bound = copy.copy(self)  # shares the sessions
        bound.style_vector = sum(wi * self.style_vector_of(im) for wi, im in zip(weights, images)).astype(np.float32)
        return bound

    def _feeds(self, x: np.ndarray, batch: np.ndarray) -> dict[str, np.ndarray]:
        if self.style_vector is None:
            raise self.unbound()
        vector = self.style_vector
        if self.alpha < 1.0:
            vector = self.alpha * vector + (1.0 - self.alpha) * self.style_vector_of(batch[0])
        return {**super()._feeds(x, batch), self.vector_name: vector.astype(np.float32)}
