"""The engine cache: an engine is built once and reused until something it depends on changes.

A TensorRT engine is only valid for the exact model, shapes, precision, GPU model
and TensorRT version it was built with, and reflects the recipe rtstyle built it by
(flags, workspace, layers kept in fp32). All of these go into the key; its hash names
the file, and the key itself is stored beside it in JSON so a cache folder can be
read (and a stale entry explained) by a person.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..paths import cache_dir
from .profiles import Profile


@dataclass(frozen=True)
class EngineKey:
    model_sha256: str  # of the ONNX file (graph and weights)
    profile: Profile
    precision: str  # "fp32" or "fp16"
    gpu_name: str
    compute_capability: str  # "9.0"
    tensorrt_version: str
    builder: str = "tensorrt"  # or "torch-tensorrt"
    recipe: str = ""  # how it was built: rtstyle's version, builder flags, workspace, layers kept fp32

    def as_dict(self) -> dict:
        d = asdict(self)
        d["profile"] = self.profile.as_dict()
        return d

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:24]


class EngineCache:
    """Engines in one folder: `<digest>.engine` plus `<digest>.json` (the key), and a shared timing cache."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_dir("engines")

    def path(self, key: EngineKey) -> Path:
        return self.root / f"{key.digest()}.engine"

    @property
    def timing_cache(self) -> Path:
        """TensorRT's per-layer timings: later builds on the same GPU skip most of the autotuning."""
        return self.root / "timing.cache"

    def get(self, key: EngineKey) -> Path | None:
        path = self.path(key)
        side = path.with_suffix(".json")
        if not (path.is_file() and side.is_file()):
            return None
        try:
            stored = json.loads(side.read_text())
        except (OSError, ValueError):
            return None
        return path if stored == key.as_dict() else None

    def covering(self, key: EngineKey) -> tuple[Path, Profile] | None:
        """An engine built like `key` (same model, precision, GPU, TensorRT and recipe) whose profile
        takes in `key`'s: a wider engine serves a job that needs less. The exact one first, then
        one tuned for the same shape, then the narrowest (the least memory)."""
        exact = self.get(key)
        if exact:
            return exact, key.profile
        wanted = key.as_dict()
        found = []
        for side in self.root.glob("*.json") if self.root.is_dir() else ():
            try:
                stored = json.loads(side.read_text())
                profile = Profile(*(tuple(stored["profile"][k]) for k in ("min", "opt", "max")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            same_build = {k: v for k, v in stored.items() if k != "profile"} == \
                         {k: v for k, v in wanted.items() if k != "profile"}
            engine = side.with_suffix(".engine")
            if same_build and profile.covers(key.profile.min) and profile.covers(key.profile.max) \
                    and engine.is_file():
                found.append((profile.opt != key.profile.opt, math.prod(profile.max), str(engine), profile))
        return (Path(min(found)[2]), min(found)[3]) if found else None

    def put(self, key: EngineKey, blob: bytes) -> Path:
        """Store atomically: a build that dies half way never leaves an engine that looks valid."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
        path.with_suffix(".json").write_text(json.dumps(key.as_dict(), indent=2, sort_keys=True) + "\n")
        return path
