"""The FastAPI application: the guard middleware (`http.Guard`), the routes (`api`, `live`) and
the page at `/`, around one `state.Service`."""

from __future__ import annotations

import contextlib

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from .. import __version__
from . import api, live_views
from .http import Guard, add_error_handlers
from .state import Service, ServiceSettings


DESCRIPTION = """Neural style transfer for images, videos and live streams.

Every error is `{"error": "one line"}`: a 4xx status for what the request got wrong, 500 for the
server's own failure (a bug, a data folder it may not write to), 503 while another process locks
the jobs database or the server shuts down (`Retry-After` where trying again helps), 507 when its
disk is full. Each route lists the ones it answers."""


def create_app(settings: ServiceSettings) -> FastAPI:
    service = Service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(service.start)
        app.state.live = live_views.LiveHub(service)
        try:
            yield
        finally:
            await app.state.live.close()
            service.close()

    app = FastAPI(title="rtstyle", version=__version__, lifespan=lifespan, description=DESCRIPTION)
    app.state.service = service
    add_error_handlers(app)
    app.include_router(api.public)
    app.include_router(api.router)
    app.include_router(live_views.router)
    app.mount("/static", StaticFiles(directory=api.STATIC), name="static")
    app.add_middleware(Guard, token=settings.token, body_limit=settings.body_limit, per_client=settings.per_client)
    if settings.cors:  # outside the guard (the last added is the outermost): preflights carry no token
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors), allow_methods=["*"],
                           allow_headers=["*"])
    return app
