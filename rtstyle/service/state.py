"""The service's state: what lives as long as the server.

`Service` holds the settings, the shared models, the jobs database and its workers. The
application keeps one in `app.state.service` (`app.create_app`); routes receive it through
the `ServiceDep` dependency, so no route module needs the application's.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import cv2
import numpy as np
from fastapi import Depends, Request

from .. import __version__
from ..errors import RtstyleError
from ..images import encode_image, resize_long_side
from ..sources import scaled_size
from ..models.library import DEFAULT_STYLE, available_styles, needs_style_image
from .http import SMALL_BODY, ApiError
from .jobs import JobRunner
from .models import ModelKey, ModelPool
from .requests import MAX_HEIGHT, ImageOptions
from .store import JobStore
from .uploads import decode_image

if TYPE_CHECKING:
    from ..cluster.ray_serve import Scaling

log = logging.getLogger(__name__)

MB = 1024 * 1024
PREVIEW_LONG_SIDE = 320


@dataclass
class ServiceSettings:
    data: Path
    token: str | None = None
    max_jobs: int = 1  # videos converted at once
    keep_jobs: float | None = None  # days an ended job is kept (None: until a client deletes it)
    max_video_bytes: int = 2048 * MB
    max_image_bytes: int = 50 * MB
    per_client: int = 16  # requests in flight from one address
    max_live: int = 8  # WebRTC sessions at once
    private_urls: bool = True  # fetch URLs on private addresses (the CLI allows it on loopback only)
    cors: tuple[str, ...] = ()  # origins allowed to call from other pages (none: CORS off)
    sources: dict[str, str] = field(default_factory=dict)  # server-side live sources by name (MJPEG)
    batching: bool | None = None  # frames from several clients in one network call (None: on a GPU only)
    max_wait: float = 0.005  # s a frame waits for others to batch with
    models: int = 4  # styles kept loaded
    ray: str | None = None  # run the model as a Ray Serve deployment on this cluster ("auto": local)
    scaling: Scaling | None = None  # the deployment's replicas and batching for `ray` (None: the defaults)

    def body_limit(self, path: str) -> int:
        """The largest request body each route reads."""
        if path == "/v1/jobs":
            return self.max_video_bytes + self.max_image_bytes + MB
        if path == "/v1/images":
            return 2 * self.max_image_bytes + MB
        return SMALL_BODY  # JSON: options, a URL, an SDP offer


class Service:
    """One server's state; `start` runs its workers, `close` stops them."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.pool = ModelPool(settings.models, max_wait=settings.max_wait, batching=settings.batching)
        try:
            settings.data.mkdir(parents=True, exist_ok=True)
            # Uploads spool to disk as they arrive (`uploads.form_of`): on the data volume, where the
            # jobs are, not in /tmp, often small or in memory. The files are unlinked at once.
            self.spool = settings.data / ".spool"
            shutil.rmtree(self.spool, ignore_errors=True)
            self.spool.mkdir()
            self.store = JobStore(settings.data / "jobs.sqlite3")
            self.jobs = JobRunner(self.store, settings.data / "jobs", self.pool, settings.max_jobs,
                                  settings.max_video_bytes, settings.private_urls, settings.keep_jobs)
        except OSError as exc:  # a read-only volume, a file where a folder goes: the operator's to fix
            raise RtstyleError(f"--data {settings.data}: cannot keep the service's files there: "
                               f"{exc.filename}: {exc.strerror or exc}") from None
        self.previews = settings.data / "previews"
        self._preview_lock = threading.Lock()
        self.ray_models = None  # cluster.ray_serve.RayModels, made at start

    def start(self) -> None:
        """Start the workers (and the Ray Serve deployment): blocking, not on the event loop."""
        if self.settings.ray:
            from ..cluster.ray_serve import RayModels, Scaling

            self.ray_models = RayModels(self.settings.ray, self.settings.scaling or Scaling())
        self.jobs.start()

    def close(self) -> None:
        self.jobs.close()
        self.pool.close()
        self.store.close()
        if self.ray_models:
            self.ray_models.close()

    def stylize(self, image: bytes, style_image: bytes | None, opts: ImageOptions) -> np.ndarray:
        """One still, through the shared model (batched with other requests)."""
        frame = decode_image(image, "image")
        styles = [decode_image(style_image, "style_image")] if style_image else None
        # at `height`, else at most MAX_HEIGHT lines; refused in one line if memory cannot hold it
        w, h = scaled_size(frame.shape[1], frame.shape[0], opts.height or min(frame.shape[0], MAX_HEIGHT))
        if (w, h) != (frame.shape[1], frame.shape[0]):
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if h < frame.shape[0] else cv2.INTER_CUBIC)
        if self.ray_models:
            return self.ray_models.stylize(opts, frame, styles)
        model = self.pool.get(ModelKey(opts.style, lite=opts.lite))
        return model.run(model.view(opts.strength, opts.stroke, styles), frame)

    def preview(self, name: str) -> Path:
        """A small picture of what `name` does to a frame of the bundled clip (made once, kept)."""
        style = available_styles().get(name)
        if style is None:
            raise ApiError(404, f"no style {name[:64]!r}")
        path = self.previews / f"{name}.jpg"
        with self._preview_lock:
            if not path.exists():
                from ..convert import sample_frames

                frame = resize_long_side(sample_frames((40,))[0], PREVIEW_LONG_SIDE)
                if needs_style_image(style):
                    raise ApiError(404, f"style {name!r} takes a style image: it has no look of its own")
                model = self.pool.get(ModelKey(name))
                self.previews.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.jpg")
                tmp.write_bytes(encode_image(model.run(model.view(), frame), path))
                tmp.replace(path)
        return path

    def styles(self) -> list[dict]:
        out = []
        for name, style in available_styles().items():
            try:
                meta = style.meta
            except Exception as exc:  # one damaged user file must not hide the others
                out.append({"name": name, "origin": style.origin, "error": str(exc).splitlines()[0]})
                continue
            if "lite_of" in meta.extra:
                continue  # --lite's choice, not a style to pick
            any_image = needs_style_image(style)
            out.append({"name": name, "default": name == DEFAULT_STYLE, "origin": style.origin,
                        "architecture": meta.architecture,
                        "summary": meta.extra.get("summary") or meta.provenance or "",
                        "takes_style_image": any_image,
                        "preview": None if any_image else f"/v1/styles/{name}/preview.jpg",
                        "default_strength": float(meta.extra.get("strength", 1.0)),
                        "license": meta.license})
        return out

    def health(self) -> dict:
        counts: dict[str, int] = {}
        for job in self.store.list():
            counts[job.state] = counts.get(job.state, 0) + 1
        health = {"status": "ok", "version": __version__, "jobs": counts,
                  "models": [f"{k.style}{' (lite)' if k.lite else ''}" for k in self.pool.loaded()]}
        if self.ray_models:
            health["ray"] = self.ray_models.status()
        return health


def get_service(request: Request) -> Service:
    """The dependency that hands routes the application's `Service`."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
