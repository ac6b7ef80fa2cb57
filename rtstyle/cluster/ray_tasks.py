"""What runs on Ray workers, and what reaches them.

A segment is a task with `max_retries`: if its worker process dies (killed, out of memory, a
lost node), Ray runs it again elsewhere, and since a segment is written whole or not at all,
a retry starts clean. Weights travel once: a preset is in the package every worker has; a
user's style file goes to the object store once per batch and each worker process writes it
to its own cache once. A worker keeps its loaded backend for the next segment of the same style.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from typing import TYPE_CHECKING

from ..errors import RtstyleError
from ..paths import cache_dir

if TYPE_CHECKING:
    from ..spec import BackendSettings, JobSpec

NEEDS = "--ray needs the ray extra: pip install 'rtstyle[ray]'"
RETRIES = 3  # a segment whose worker died is run again this many times


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise RtstyleError(f"{NEEDS}: {exc}") from None
    return ray


def connect(address: str | None):
    """Ray, connected to the cluster at `address` ("auto" or None: a running one, else a new
    local one). Workers run with this process's rtstyle (its code and package data)."""
    ray = _ray()
    if not ray.is_initialized():
        try:
            ray.init(address=None if address in (None, "auto", "local") else address, include_dashboard=False,
                     logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RtstyleError(f"--ray {address}: cannot reach the cluster: {str(exc).splitlines()[0]}") from None
    return ray


def ship_weights(settings: BackendSettings) -> tuple[str, str, object] | None:
    """A style given as a file, imported by the user or blended, into the object store: (name,
    suffix, reference). None for built-in styles, which every worker's package has."""
    from ..models.library import pick_style

    style = pick_style(settings.style, settings.lite)
    if style.origin == "built-in":
        return None
    data = style.path.read_bytes()
    return style.name, style.path.suffix, _ray().put(data)


_backends: dict = {}  # per worker process: (settings, weights) -> backend


def _backend(settings: BackendSettings, weights):
    key = (settings, weights[0] if weights else None)
    if key not in _backends:
        style = None
        if weights is not None:
            from ..models.library import Style

            name, suffix, ref = weights
            data = _ray().get(ref)
            digest = hashlib.sha256(data).hexdigest()
            path = cache_dir("ray-weights") / f"{digest[:16]}{suffix}"  # this user's, not a shared /tmp
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(data)
                tmp.replace(path)
            style = Style(name, path, "file")
        _backends.clear()  # one style at a time per worker: memory stays bounded
        _backends[key] = settings.load(style, **_threads(settings, style))
    return _backends[key]


def _threads(settings: BackendSettings, style) -> dict:
    """A task gets the cores Ray gave it and no more: ONNX Runtime and torch would each take every
    core of the machine, and workers sharing them would slow each other down."""
    from ..backends import auto_backend
    from ..models.library import pick_style

    cores = max(1, int(_ray().get_runtime_context().get_assigned_resources().get("CPU", 1)))
    style = style or pick_style(settings.style, settings.lite)
    runtime = auto_backend(style) if settings.backend == "auto" else settings.backend
    if runtime == "onnxruntime":
        return {"threads": cores}
    import torch  # its network runs on PyTorch: only then is torch loaded, and told its share

    torch.set_num_threads(cores)
    return {}


def segment_task(src: str, segment, part: str, spec: JobSpec, weights) -> int:
    """One segment of `src` into `part` (the process shows as `ray::segment_task` while it runs)."""
    from .segments import convert_segment

    return convert_segment(Path(src), segment, Path(part), _backend(spec.backend, weights), height=spec.height,
                           encoder=spec.encoder(), temporal=spec.smoother())


class _Remote:
    """`convert.remote(...)`: the Ray task, made on first use so importing this needs no Ray."""

    _task = None

    def remote(self, *args):
        if _Remote._task is None:
            _Remote._task = _ray().remote(num_cpus=1, max_retries=RETRIES)(segment_task)
        return _Remote._task.remote(*args)


convert = _Remote()


def error_line(exc: BaseException) -> str:
    """One line for a failed task: the rtstyle error inside Ray's wrapper, or what Ray says."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, RtstyleError):
        return str(cause)
    text = str(cause or exc).strip().splitlines()
    last = next((line for line in reversed(text) if line.strip()), type(exc).__name__)
    return last.strip()
