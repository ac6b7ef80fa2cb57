"""Frames are numpy arrays on the host and torch tensors on a device (`Frames`). These pieces
tell the two apart without importing torch: a job that never made a tensor never loads it
(ONNX Runtime's presets and --lite start in a fraction of a second)."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, ContextManager

if TYPE_CHECKING:
    import numpy as np
    import torch

    Frames = np.ndarray | torch.Tensor


def is_tensor(x: object) -> bool:
    """Whether `x` is a torch tensor; without torch loaded, nothing is."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def no_autograd(x: object) -> ContextManager:
    """`torch.inference_mode()` around work on tensors; nothing for numpy arrays."""
    return sys.modules["torch"].inference_mode() if is_tensor(x) else contextlib.nullcontext()
