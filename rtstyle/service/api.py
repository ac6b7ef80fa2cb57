"""The versioned HTTP API: styles, health, images, video jobs. (Live views: `live_views.py`.)"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from .forms import (ImageForm, ImageJson, JobForm, JobJson, MediaRequest, image_request, request_body,
                    video_request)
from .http import ANY_ROUTE, DISK_FULL, JOBS_DB, TOKEN_ROUTE, ApiError, error_responses
from .jobs import INPUT, JobOptions, save_style_image
from .requests import ImageOptions
from .state import ServiceDep
from .store import ACTIVE, Job
from .uploads import check_url, decode_image, fetch, save_video

public = APIRouter(responses=error_responses(ANY_ROUTE))  # open without the token (`http.Guard.OPEN`)
router = APIRouter(responses=error_responses(TOKEN_ROUTE))
OUTPUT_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
JOB_URL_SCHEMES = ("http", "https", "rtsp", "rtsps")
STATIC = Path(__file__).with_name("static")  # the page at / and its scripts
BODY = {413: "the body, or a file in it, passes this route's limit (--max-image-mb, --max-video-mb)",
        415: "a body neither a form nor JSON, or a file in it that is no picture of the kinds taken",
        422: "a field or an option refused (the message names it)"}
NO_JOB = {404: "no job with this id", **JOBS_DB}


@public.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@public.get("/v1/health", responses=error_responses(JOBS_DB))
def health(service: ServiceDep) -> dict:
    return service.health()


@router.get("/v1/styles")
def styles(service: ServiceDep) -> list[dict]:
    """Every style with its model card's summary and a preview."""
    return service.styles()


@router.get("/v1/styles/{name}/preview.jpg", response_class=FileResponse,
            responses=error_responses({404: "no such style, or one with no look of its own (it takes a style image)",
                                       **DISK_FULL}))
def preview(name: str, service: ServiceDep) -> FileResponse:
    return FileResponse(service.preview(name), media_type="image/jpeg")


Accept = Annotated[str | None, Header(description="the types the client takes: image/png, image/jpeg, image/webp")]


def output_type(accept: Accept = None) -> str:
    """The dependency choosing the image type `Accept` prefers among PNG, JPEG and WebP (PNG when
    it allows anything)."""
    best, best_q = None, 0.0
    for part in (accept or "*/*").split(","):
        kind, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            if p.strip().startswith("q="):
                try:
                    q = float(p.strip()[2:])
                except ValueError:
                    q = 0.0
        kind = kind.strip().lower()
        candidate = "image/png" if kind in ("*/*", "image/*") else kind
        if candidate in OUTPUT_TYPES and q > best_q:
            best, best_q = candidate, q
    if best is None:
        raise ApiError(406, f"cannot answer with {accept[:64]!r}: this returns image/png, image/jpeg or image/webp")
    return best


@router.post("/v1/images", response_class=Response, openapi_extra=request_body(ImageForm, ImageJson),
             responses={200: {"content": {t: {} for t in OUTPUT_TYPES}},
                        **error_responses({**BODY, 406: "Accept takes none of PNG, JPEG and WebP", **DISK_FULL})})
async def stylize_image(kind: Annotated[str, Depends(output_type)],
                        asked: Annotated[MediaRequest[ImageOptions], Depends(image_request)],
                        service: ServiceDep) -> Response:
    """Stylize one image: a form with the `image` file, or its `url` (a form or JSON), with the
    options below. The answer is PNG, JPEG or WebP as `Accept` asks."""
    limit = service.settings.max_image_bytes
    if asked.file is not None:
        data = await _read_upload(asked.file, limit, "image")
    elif asked.url:
        private = service.settings.private_urls  # checking resolves the host: off the event loop too
        data = await run_in_threadpool(lambda: fetch(check_url(asked.url, private), limit, private))
    else:
        raise ApiError(422, "give the image as a file (form field image) or a url (JSON or form field url)")
    style_image = await _read_upload(asked.style_image, limit, "style_image") if asked.style_image else None
    out = await run_in_threadpool(service.stylize, data, style_image, asked.options)
    ok, buf = cv2.imencode(OUTPUT_TYPES[kind], np.ascontiguousarray(out[:, :, ::-1]))
    return Response(buf.tobytes(), media_type=kind)


async def _read_upload(file: UploadFile, limit: int, what: str) -> bytes:
    if file.size is not None and file.size > limit:
        raise ApiError(413, f"{what}: {file.size} bytes; the limit is {limit}")
    return await file.read()


@router.post("/v1/jobs", status_code=202, openapi_extra=request_body(JobForm, JobJson),
             responses=error_responses({**BODY, 415: "a body neither a form nor JSON, or a file in it that is no video "
                                                     "(or, as style_image, no picture)", **JOBS_DB, **DISK_FULL}))
async def create_job(asked: Annotated[MediaRequest[JobOptions], Depends(video_request)],
                     service: ServiceDep) -> JSONResponse:
    """Queue a video: a form with the `video` file, or its `url` (a form or JSON), with the
    options below. Answers 202 with the job."""
    video, url = asked.file, asked.url
    if video is None and not url:
        raise ApiError(422, "give the video as a file (form field video) or a url (JSON or form field url)")
    if video is None:
        url = await run_in_threadpool(check_url, url, service.settings.private_urls, JOB_URL_SCHEMES)
    if video is not None and video.size is not None and video.size > service.settings.max_video_bytes:
        raise ApiError(413, f"video: {video.size} bytes; the limit is {service.settings.max_video_bytes}")
    style_image = await _read_upload(asked.style_image, service.settings.max_image_bytes, "style_image") \
        if asked.style_image else None
    job_id, folder = service.jobs.new_folder()
    try:
        if style_image is not None:
            await run_in_threadpool(lambda: save_style_image(folder, decode_image(style_image, "style_image")))
        if video is not None:
            await run_in_threadpool(save_video, video, folder / INPUT)
            await run_in_threadpool(_probe, folder / INPUT, video.filename or "video")
        job = service.jobs.add(job_id, (video.filename or "video")[:200] if video is not None else url, asked.options)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return JSONResponse(job.public(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


def _probe(path, name: str) -> None:
    """Refuse, while the client waits, a video FFmpeg cannot open or decode a frame of."""
    from ..errors import RtstyleError
    from ..sources import VideoFileSource

    try:
        source = VideoFileSource(path)
        try:
            next(iter(source))
        except StopIteration:
            raise RtstyleError(f"{path}: no video frame could be decoded") from None
        finally:
            source.close()
    except RtstyleError as exc:
        raise ApiError(422, str(exc).replace(str(path), f"video {name[:64]!r}").splitlines()[0]) from None


def find_job(job_id: str, service: ServiceDep) -> Job:
    """The dependency for routes on one job: the job `job_id` names, or 404."""
    try:
        job = service.store.get(str(uuid.UUID(job_id)))
    except ValueError:
        job = None
    if job is None:
        raise ApiError(404, f"no job {job_id[:64]!r}")
    return job


JobDep = Annotated[Job, Depends(find_job)]


@router.get("/v1/jobs", responses=error_responses(JOBS_DB))
def list_jobs(service: ServiceDep, state: str | None = None) -> list[dict]:
    return [j.public() for j in service.store.list(state)]


@router.get("/v1/jobs/{job_id}", responses=error_responses(NO_JOB))
def get_job(job: JobDep) -> dict:
    """State (queued, running, done, failed, cancelled), progress %, fps, ETA and the error line."""
    return job.public()


@router.get("/v1/jobs/{job_id}/result", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "a byte range"},
                       **error_responses({404: "no job with this id, or it ended with no result", **JOBS_DB,
                                          409: "the job is queued or running: no result yet"})})
def job_result(job: JobDep, service: ServiceDep) -> FileResponse:
    """The stylized MP4 (audio kept). Range requests are answered, so players can seek."""
    path = service.jobs.result(job.id)
    if not job.has_result or not path.is_file():
        raise ApiError(409 if job.state in ACTIVE else 404, f"job {job.id} has no result ({job.state})")
    return FileResponse(path, media_type="video/mp4", filename=f"{job.id}.mp4")


@router.get("/v1/jobs/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}, **error_responses(NO_JOB)})
async def job_events(job: JobDep, request: Request, service: ServiceDep) -> StreamingResponse:
    """The job as Server-Sent Events: one `job` event per change, until it ends."""
    store = service.store

    async def events():
        last = None
        while True:
            current = await run_in_threadpool(store.get, job.id)
            if current is None:
                yield "event: deleted\ndata: {}\n\n"
                return
            body = json.dumps(current.public())
            if body != last:
                last = body
                yield f"event: job\ndata: {body}\n\n"
            if current.state not in ACTIVE or await request.is_disconnected():
                return
            await asyncio.sleep(0.25)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.delete("/v1/jobs/{job_id}", responses=error_responses(NO_JOB))
async def delete_job(job: JobDep, service: ServiceDep) -> JSONResponse:
    """A queued or running job is cancelled (what it made so far stays, and plays); a finished
    one is deleted with its files."""
    if job.state in ACTIVE:
        job = await run_in_threadpool(service.jobs.cancel, job.id)
        return JSONResponse(job.public())
    await run_in_threadpool(service.jobs.delete, job.id)
    return JSONResponse({"deleted": job.id})
