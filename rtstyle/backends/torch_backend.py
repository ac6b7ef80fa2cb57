"""PyTorch backend: CPU fp32, or CUDA with fp16 where a GPU is present."""

from __future__ import annotations

import numpy as np
import torch

from ..models.registry import Style
from .base import Backend


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, style: Style, device: str | None = None, precision: str | None = None):
        super().__init__(style)
        self._device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self._precision = precision or ("fp16" if self._device.type == "cuda" else "fp32")
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self._precision]
        self.model = style.build().to(self._device, self.dtype)
        self.scale = self.meta.input_scale

    @property
    def device(self) -> str:
        return str(self._device)

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def stride(self) -> int:
        return getattr(self.model, "stride", 1)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) uint8 on this device, sides a multiple of `stride` -> the same, stylized."""
        x = x.permute(0, 3, 1, 2).to(self.dtype) * self.scale
        y = self.model(x).float() / self.scale
        return y.clamp_(0, 255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self.forward(torch.from_numpy(batch).to(self._device)).cpu().numpy()
