"""What each inference runtime takes: one table the command line, `rtstyle bench` and the
backends read (the model is ultralytics' table of export formats), torch-free for `--help`.

`torch_dtype` maps a precision name to torch's dtype; it imports torch only when called, and
`cuda_available` only where an NVIDIA driver is loaded.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import RtstyleError

PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Capabilities:
    """One runtime's row of the table."""

    name: str  # the --backend value
    precisions: tuple[str, ...]  # what it runs a network in
    options: tuple[str, ...]  # the keyword options its backends take (`create_backend(**options)`)


RUNTIMES = (
    Capabilities("torch", PRECISIONS, ("cuda_graphs", "compile", "channels_last")),
    Capabilities("onnxruntime", ("fp32", "fp16"), ("threads",)),
    Capabilities("tensorrt", ("fp32", "fp16"), ("profile", "cache")),
)
BACKEND_NAMES = tuple(r.name for r in RUNTIMES)
BACKEND_CHOICES = ("auto", *BACKEND_NAMES)  # auto: the best that runs here (backends.auto_backend)


def capabilities(name: str) -> Capabilities:
    return next(r for r in RUNTIMES if r.name == name)


def check_request(backend: str, precision: str | None, options: dict) -> None:
    """Refuse, in one line, a precision or an option the runtime does not have."""
    rt = capabilities(backend)
    if precision and precision not in rt.precisions:
        raise RtstyleError(f"--precision {precision}: the {backend} backend runs {', '.join(rt.precisions)}")
    if foreign := sorted(set(options) - set(rt.options)):
        owner = next((r.name for r in RUNTIMES if set(foreign) <= set(r.options)), "no")
        flags = " and ".join(f"--{o.replace('_', '-')}" for o in foreign)
        raise RtstyleError(f"{flags} appl{'y' if len(foreign) > 1 else 'ies'} to the {owner} backend, not {backend}")


def torch_dtype(precision: str):
    """torch's dtype for a precision name (fp32, fp16, bf16)."""
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


@cache
def cuda_available() -> bool:
    """Whether PyTorch sees a CUDA GPU. Without an NVIDIA driver (Linux's /proc/driver/nvidia) the
    answer is no, and torch's 2-3 s import is spared: ONNX Runtime's jobs never load it."""
    if "torch" not in sys.modules and sys.platform == "linux" and not Path("/proc/driver/nvidia").exists():
        return False
    import torch

    return torch.cuda.is_available()
