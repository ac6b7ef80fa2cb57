"""`rtstyle serve --ray`: the model runs as a Ray Serve deployment with autoscaled replicas.

The HTTP API, the page and the jobs database stay in the `rtstyle serve` process (the jobs
database is the one source of truth); what scales is the network. Image requests go to the
`StyleModel` deployment through its handle; each replica batches the requests waiting for it
(`@serve.batch`) by style and frame size, and Ray Serve adds replicas while more than
`target_ongoing_requests` wait per replica, up to `max_replicas`, and removes them when idle.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass

import numpy as np

from .ray_tasks import connect

APP = "rtstyle"


@dataclass(frozen=True)
class Scaling:
    min_replicas: int = 1
    max_replicas: int = 4
    target_ongoing_requests: float = 2.0
    replica_cpus: float = 1.0
    max_batch: int = 8
    batch_wait_s: float = 0.005


class StyleModel:
    """One replica: the loaded styles (`service.models.ModelPool`) behind a batching method.
    Requests with the same settings share a view (`SharedModel.view`), so they batch together."""

    def __init__(self, max_batch: int, batch_wait_s: float):
        from ray import serve

        from ..service.models import ModelPool

        self.pool = ModelPool(batching=False)  # the batches are made here, across requests
        self.stylize = serve.batch(max_batch_size=max_batch, batch_wait_timeout_s=batch_wait_s)(self._batch)

    async def _batch(self, requests: list[tuple]) -> list[np.ndarray]:
        """Frames of one view and size run as one network call (off the replica's event loop)."""
        out: list[np.ndarray | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for i, (view, frame) in enumerate(requests):
            groups.setdefault((id(view), frame.shape), []).append(i)
        for members in groups.values():
            view = requests[members[0]][0]
            results = await asyncio.to_thread(view, np.stack([requests[i][1] for i in members]))
            for i, result in zip(members, results):
                out[i] = result
        return out

    async def __call__(self, opts: dict, frame: np.ndarray, styles: list | None) -> np.ndarray:
        """One request: its options checked here, alone, so a bad one fails only itself."""
        from ..service.models import ModelKey

        model = await asyncio.to_thread(self.pool.get, ModelKey(opts["style"], lite=opts["lite"]))
        view = model.view(opts["strength"], opts["stroke"], styles)
        return await self.stylize((view, frame))


class RayModels:
    """The service's door to the deployment: `stylize` blocks the calling (worker) thread."""

    def __init__(self, address: str | None, scaling: Scaling = Scaling()):
        from ray import serve

        connect(address)
        deployment = serve.deployment(
            StyleModel, name="StyleModel", max_ongoing_requests=4 * scaling.max_batch,
            ray_actor_options={"num_cpus": scaling.replica_cpus},
            autoscaling_config={"min_replicas": scaling.min_replicas, "max_replicas": scaling.max_replicas,
                                "target_ongoing_requests": scaling.target_ongoing_requests})
        self.scaling = scaling
        self.handle = serve.run(deployment.bind(scaling.max_batch, scaling.batch_wait_s), name=APP,
                                route_prefix=None)

    def stylize(self, opts, frame: np.ndarray, styles: list | None) -> np.ndarray:
        from ..errors import RtstyleError

        try:
            return self.handle.remote(asdict(opts), frame, styles).result()
        except Exception as exc:  # Ray wraps a replica's error (its text is the replica's traceback)
            cause = getattr(exc, "cause", None)
            if isinstance(cause, RtstyleError):
                raise cause from None  # the user's one line
            raise

    def status(self) -> dict:
        from ray import serve

        app = serve.status().applications.get(APP)
        if app is None:
            return {"status": "not running"}
        deployment = app.deployments.get("StyleModel")
        replicas = sum(deployment.replica_states.values()) if deployment else 0
        return {"status": str(app.status), "replicas": replicas, **asdict(self.scaling)}

    def close(self) -> None:
        import ray
        from ray import serve

        serve.delete(APP)
        ray.shutdown()  # a local cluster this started goes with it
