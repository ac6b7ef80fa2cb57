"""Live views: a browser's webcam over WebRTC, stylized and sent back; MJPEG of server-side sources.

Both follow the live drop policy of `rtstyle live`: never lag behind. What comes in lands in
a one-frame slot (`Newest`); the painter takes the newest frame when it is free, so a frame
replaced before it was taken is dropped, not queued, and the delay stays one frame's work
however slow the machine. Frames go through the shared model (`models.SharedModel.submit`),
so every session's frames batch together, then through the session's own temporal smoother.

A WebRTC session (`LiveSession`) is one aiortc peer connection: the peer's video track in, a
`StylizedTrack` out, on the same transceiver. An MJPEG feed (`Feed`) is a source configured with
`--source` painted one way, shared by every viewer asking for it so; all feeds of a source share
one `Reader` (a camera opens once), which closes the source when the last viewer goes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from dataclasses import astuple, dataclass
from statistics import median
from typing import Annotated, Literal

import cv2
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from ..backends import Backend
from ..errors import RtstyleError
from ..frames import Frame
from ..sources import open_source, output_size
from ..temporal import TemporalSmoother
from .forms import Fields, Integer, SmoothedFields, request_body
from .http import TOKEN_ROUTE, ApiError, error_responses
from .models import ModelKey, SharedModel
from .requests import SmoothedOptions
from .state import Service

log = logging.getLogger(__name__)
router = APIRouter(responses=error_responses(TOKEN_ROUTE))

DEFAULT_HEIGHT, MAX_HEIGHT = 360, 720  # the height frames are painted at, at most (smaller ones are kept)
WIDEST = 16 / 9  # and their width, at most, relative to that height
CONNECT_TIMEOUT = 30.0  # s a session may take to connect before it is given up
FEED_IDLE = 10.0  # s an MJPEG feed runs with no viewer taking a frame (one that asked and never read)
FPS_WINDOW = 2.0  # s of frames the frame rate is measured over
BOUNDARY = "frame"
JPEG_QUALITY = 80


@dataclass
class LiveOptions(SmoothedOptions):
    """The options of a live view; `height` is a cap here: DEFAULT_HEIGHT unless given, at most MAX_HEIGHT."""

    @classmethod
    def parse(cls, form: dict) -> "LiveOptions":
        opts = super().parse(form)
        if opts.height is None:
            opts.height = DEFAULT_HEIGHT
        elif opts.height > MAX_HEIGHT:
            raise ApiError(422, f"height: live views are painted at most {MAX_HEIGHT} high, got {opts.height}")
        return opts


class LiveFields(SmoothedFields):
    """A live view's options (`LiveOptions`), as /docs shows them: the MJPEG route's query."""

    height: Integer = Field(None, description=f"the height frames are painted at, at most (default {DEFAULT_HEIGHT}, "
                                              f"at most {MAX_HEIGHT}; smaller frames keep theirs)")


class OfferFields(LiveFields):
    """`POST /v1/live/offer`: the browser's offer and the live view's options."""

    sdp: str = Field(description="the SDP text of the browser's offer, with a video track")
    type: Literal["offer"] = "offer"


@dataclass
class Offer:
    """A WebRTC offer, checked."""

    sdp: str
    options: LiveOptions


def read_offer(fields: Fields) -> Offer:
    """The dependency of `POST /v1/live/offer`."""
    sdp = fields.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip():
        raise ApiError(422, "sdp: expected the offer's SDP text")
    if fields.get("type", "offer") != "offer":
        raise ApiError(422, 'type: expected "offer"')
    return Offer(sdp, LiveOptions.parse(fields))


class Newest:
    """The live drop policy's one-frame slot (event loop only): `put` replaces what was not
    taken yet, and counts it dropped; `take` waits for the newest; None once `end`ed."""

    def __init__(self):
        self._item: tuple[object, float] | None = None
        self._ready = asyncio.Event()
        self.ended = False
        self.dropped = 0

    def put(self, item: object, arrived: float | None = None) -> None:
        if self._item is not None:
            self.dropped += 1
        self._item = (item, time.monotonic() if arrived is None else arrived)
        self._ready.set()

    def end(self) -> None:
        self.ended = True
        self._ready.set()

    async def take(self) -> tuple[object, float] | None:
        """(item, when it arrived), or None when no more will come."""
        while self._item is None and not self.ended:
            self._ready.clear()
            await self._ready.wait()
        if self.ended:
            return None
        item, self._item = self._item, None
        return item


class Painter:
    """One live view's look: a view of the shared model, its own smoother (they keep state per
    stream), and the numbers `GET /v1/live/sessions` shows."""

    def __init__(self, options: LiveOptions, model: SharedModel, view: Backend, smoother: TemporalSmoother):
        self.options, self.model, self.view, self.smoother = options, model, view, smoother
        self.frames = 0
        self.started = time.monotonic()
        self._sent: deque[float] = deque(maxlen=512)
        self._latency: deque[float] = deque(maxlen=30)
        self._sizes = ((0, 0), (0, 0))  # the last input size and its painted size

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The size a frame is painted at: no higher than the options' height nor wider than WIDEST
        times it (the work per frame is bounded whatever a peer sends), even sides (4:2:0 video)."""
        if self._sizes[0] != (width, height):
            cap = self.options.height
            scale = min(1.0, cap / height, WIDEST * cap / width)
            self._sizes = ((width, height), output_size(width, height, scale=scale))
        return self._sizes[1]

    async def paint(self, image: np.ndarray, arrived: float) -> np.ndarray:
        """`image` (RGB) stylized with the other clients' frames, then smoothed."""
        styled = await asyncio.wrap_future(self.model.submit(self.view, image))
        frame = Frame(self.frames, styled, original=image, styled_at=self.view.scale_for(*image.shape[:2]))
        out = (await asyncio.to_thread(self.smoother, frame)).image
        now = time.monotonic()
        self.frames += 1
        self._sent.append(now)
        self._latency.append(now - arrived)
        return out

    def stats(self) -> dict:
        now = time.monotonic()
        span = min(FPS_WINDOW, now - self.started)
        recent = sum(t > now - FPS_WINDOW for t in self._sent)
        return {"style": self.options.style, "height": self.options.height, "temporal": self.options.temporal,
                "frames_sent": self.frames, "fps": round(recent / span, 1) if span > 0 else 0.0,
                "latency_ms": round(1000 * median(self._latency)) if self._latency else None}


class StylizedTrack(MediaStreamTrack):
    """The track a session sends back: the newest frame of the peer's, painted."""

    kind = "video"

    def __init__(self, session: "LiveSession"):
        super().__init__()
        self.session = session

    async def recv(self) -> VideoFrame:
        session = self.session
        taken = await session.newest.take()
        if taken is None:
            raise MediaStreamError
        frame, arrived = taken
        try:
            image = await asyncio.to_thread(session.rgb, frame)
            out = await session.painter.paint(image, arrived)
        except Exception:
            log.exception("live session %s: painting a frame failed", session.id)
            session.hub.spawn(session.hub.end(session.id))
            raise MediaStreamError from None
        painted = VideoFrame.from_ndarray(out, format="rgb24")
        painted.pts, painted.time_base = frame.pts, frame.time_base  # the peer's clock, skips where dropped
        return painted


class LiveSession:
    """One peer connection: the peer's video in, `StylizedTrack` out on the same transceiver."""

    def __init__(self, hub: "LiveHub", painter: Painter):
        self.id = uuid.uuid4().hex
        self.hub, self.painter = hub, painter
        self.newest = Newest()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: aiortc's default asks Google's
        self.pc.on("connectionstatechange", self._state_changed)
        self._reader: asyncio.Task | None = None
        self._give_up = asyncio.get_running_loop().call_later(CONNECT_TIMEOUT, self._not_connected)

    async def answer(self, sdp: str) -> str:
        """The SDP answer to the peer's offer."""
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:  # noqa: BLE001 - aiortc's SDP parser fails with half a dozen types
            raise ApiError(400, f"sdp: not a usable offer ({type(exc).__name__}: {str(exc)[:120]})") from None
        transceivers = self.pc.getTransceivers()
        video = next((t for t in transceivers if t.kind == "video" and t.receiver.track), None)
        if video is None:
            raise ApiError(422, "sdp: the offer sends no video track")
        for other in transceivers:
            if other is not video:
                other.direction = "inactive"  # nothing would read them: aiortc would queue their frames forever
        video.sender.replaceTrack(StylizedTrack(self))
        video.direction = "sendrecv"
        self._reader = self.hub.spawn(self._read(video.receiver.track))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    def rgb(self, frame: VideoFrame) -> np.ndarray:
        w, h = self.painter.size(frame.width, frame.height)
        return frame.to_ndarray(format="rgb24", width=w, height=h)

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                self.newest.put(await track.recv())
        except MediaStreamError:  # the peer stopped sending
            self.hub.spawn(self.hub.end(self.id))

    async def _state_changed(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            await self.hub.end(self.id)

    def _not_connected(self) -> None:
        if self.pc.connectionState != "connected":
            log.info("live session %s: not connected after %g s, ended", self.id, CONNECT_TIMEOUT)
            self.hub.spawn(self.hub.end(self.id))

    async def close(self) -> None:
        self._give_up.cancel()
        self.newest.end()
        if self._reader is not None:
            self._reader.cancel()
        await self.pc.close()

    def stats(self) -> dict:
        return {"session": self.id, "kind": "webrtc", "state": self.pc.connectionState, **self.painter.stats(),
                "frames_dropped": self.newest.dropped}


class Reader:
    """A `--source`, read on its own thread (sources block) for every feed of it, so a camera is
    opened once however many styles are watched. Frames come at the source's own size; each feed
    fits them to its height. Closes the source when its last feed leaves."""

    def __init__(self, hub: "LiveHub", name: str, spec: str):
        self.hub, self.name, self.spec = hub, name, spec
        self.feeds: set[Feed] = set()
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()  # `stop` may come while the thread still opens the source
        self._source = None
        self._stopped = False
        self.thread = threading.Thread(target=self._read, name=f"live-{name}", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            source = open_source(self.spec, realtime=True, loop=True)
            with self._lock:
                self._source = source
                if self._stopped:
                    source.stop()
            try:
                for frame in source:
                    self._loop.call_soon_threadsafe(self._deliver, frame)
            finally:
                source.close()
        except RtstyleError as exc:  # a source's failure ends its feeds; the log says why
            log.error("live source %s: %s", self.name, exc)
        except Exception:  # noqa: BLE001 - as above, with the traceback of what was not foreseen
            log.exception("live source %s failed", self.name)
        finally:
            self._loop.call_soon_threadsafe(self._ended)

    def _deliver(self, frame: Frame) -> None:
        for feed in self.feeds:
            feed.newest.put(frame, frame.captured_at)

    def _ended(self) -> None:
        self._forget()
        for feed in self.feeds:
            feed.newest.end()

    def leave(self, feed: "Feed") -> None:
        self.feeds.discard(feed)
        if not self.feeds:
            self.stop()

    def stop(self) -> None:
        self._forget()  # a feed starting now opens the source again, not this closing reader
        with self._lock:
            self._stopped = True
            if self._source is not None:
                self._source.stop()

    def _forget(self) -> None:
        if self.hub.readers.get(self.name) is self:
            del self.hub.readers[self.name]


class Feed:
    """A `--source` painted one way, for every viewer asking for it so: frames from the source's
    `Reader`, painted on the event loop, the newest JPEG handed to each viewer."""

    def __init__(self, hub: "LiveHub", key: tuple, reader: Reader, painter: Painter):
        self.hub, self.key, self.reader, self.painter = hub, key, reader, painter
        self.newest = Newest()
        self.jpeg, self.count, self.ended = b"", 0, False
        self.viewers = 0  # counted from their request on, until their stream ends
        self.served_at = 0.0  # when a viewer last got a frame
        self.ready = asyncio.get_running_loop().create_future()  # the first JPEG, or why there is none
        self._changed = asyncio.Condition()
        reader.feeds.add(self)
        self.task = hub.spawn(self._run())

    async def _run(self) -> None:
        try:
            while (taken := await self.newest.take()) is not None:
                frame, arrived = taken
                image = await asyncio.to_thread(self._fit, frame.image)
                out = await self.painter.paint(image, arrived)
                _, jpeg = await asyncio.to_thread(cv2.imencode, ".jpg", np.ascontiguousarray(out[:, :, ::-1]),
                                                   [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                async with self._changed:
                    self.jpeg, self.count = jpeg.tobytes(), self.count + 1
                    self._changed.notify_all()
                if not self.ready.done():
                    self.served_at = time.monotonic()
                    self.ready.set_result(None)
                if time.monotonic() - self.served_at > FEED_IDLE:
                    break  # viewers that asked and never read, or stalled ones
        except Exception:  # noqa: BLE001 - its viewers' streams end; the log says why
            log.exception("live source %s: painting failed", self.reader.name)
        finally:
            self._forget()
            self.reader.leave(self)
            if not self.ready.done():
                self.ready.set_exception(ApiError(503, f"live source {self.reader.name!r} gave no frame (the "
                                                       f"server's log has the details)"))
            async with self._changed:
                self.ended = True
                self._changed.notify_all()

    def _fit(self, image: np.ndarray) -> np.ndarray:
        w, h = self.painter.size(image.shape[1], image.shape[0])
        if (w, h) == (image.shape[1], image.shape[0]):
            return image
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)

    def stop(self) -> None:
        self._forget()  # a viewer coming now starts a new feed, not this ending one
        self.newest.end()

    def _forget(self) -> None:
        if self.hub.feeds.get(self.key) is self:
            del self.hub.feeds[self.key]

    def leave(self) -> None:
        self.viewers -= 1
        if not self.viewers:
            self.stop()

    async def watch(self) -> AsyncIterator[bytes]:
        """The multipart stream of a viewer counted in `viewers`: each JPEG once, the newest when the
        viewer is slow."""
        seen = 0
        try:
            while True:
                async with self._changed:
                    while self.count == seen and not self.ended:
                        await self._changed.wait()
                    if self.ended:
                        return
                    jpeg, seen = self.jpeg, self.count
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                       + jpeg + b"\r\n")
                self.served_at = time.monotonic()
        finally:
            self.leave()

    def stats(self) -> dict:
        return {"source": self.reader.name, "kind": "mjpeg", "viewers": self.viewers, **self.painter.stats(),
                "frames_dropped": self.newest.dropped}


class LiveHub:
    """The live sessions and feeds of one server."""

    def __init__(self, service: Service):
        self.service = service
        self.sessions: dict[str, LiveSession] = {}
        self.feeds: dict[tuple, Feed] = {}
        self.readers: dict[str, Reader] = {}
        self._readers: list[Reader] = []  # every reader started: joined at close
        self._starting = 0  # sessions loading their model: counted against the limit
        self._tasks: set[asyncio.Task] = set()
        self.closed = False

    def spawn(self, coro: Coroutine) -> asyncio.Task:
        """A task kept referenced until it ends (the loop holds only weak references)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def painter(self, options: LiveOptions) -> Painter:
        model = await asyncio.to_thread(self.service.pool.get, ModelKey(options.style, lite=options.lite))
        view = model.view(options.strength, options.stroke)
        smoother = options.spec.smoother()
        smoother.follow(view.meta)
        return Painter(options, model, view, smoother)

    async def offer(self, offer: Offer) -> dict:
        """A new session from the peer's offer: its answer and the session's id."""
        limit = self.service.settings.max_live  # each costs a share of the model and a VP8 encoder
        if len(self.sessions) + self._starting >= limit:
            raise ApiError(429, f"{limit} live sessions are running, the most this server holds")
        self._starting += 1
        try:
            painter = await self.painter(offer.options)
        finally:
            self._starting -= 1
        self._check_open()
        session = LiveSession(self, painter)
        self.sessions[session.id] = session
        try:
            answer = await session.answer(offer.sdp)
        except BaseException:
            await self.end(session.id)
            raise
        return {"sdp": answer, "type": "answer", "session": session.id}

    async def end(self, session_id: str) -> bool:
        """End a session (any number of times); whether it was running."""
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        await session.close()
        return True

    async def feed(self, name: str, query: LiveFields) -> Feed:
        """The running feed of source `name` painted as `query` asks (started if needed), once it has
        a frame, with one more viewer counted."""
        spec = self.service.settings.sources.get(name)
        if spec is None:
            raise ApiError(404, f"no live source {name[:64]!r} (the server's --source options name them)")
        options = LiveOptions.parse(query.model_dump(exclude_none=True))
        key = (name, astuple(options))
        feed = self.feeds.get(key)
        if feed is None:
            painter = await self.painter(options)
            self._check_open()
            feed = self.feeds.get(key)  # another viewer may have started it meanwhile
            if feed is None:
                reader = self.readers.get(name)
                if reader is None:
                    reader = self.readers[name] = Reader(self, name, spec)
                    self._readers = [r for r in self._readers if r.thread.is_alive()] + [reader]
                feed = self.feeds[key] = Feed(self, key, reader, painter)
        feed.viewers += 1
        try:
            await asyncio.shield(feed.ready)
        except BaseException:
            feed.leave()
            raise
        return feed

    def stats(self) -> list[dict]:
        return [s.stats() for s in self.sessions.values()] + [f.stats() for f in self.feeds.values()]

    def _check_open(self) -> None:
        """After the model loads: `close` may have come meanwhile."""
        if self.closed:
            raise ApiError(503, "the server is shutting down")

    async def close(self) -> None:
        """End every session and feed; nothing new starts after. Can be called again (the server may
        call it when its shutdown starts, so MJPEG responses end before it waits for them)."""
        self.closed = True
        feeds = list(self.feeds.values())
        for feed in feeds:
            feed.stop()
        await asyncio.gather(*(self.end(i) for i in list(self.sessions)), *(f.task for f in feeds))
        for reader in self._readers:  # no thread left inside FFmpeg as the process exits
            reader.stop()
            await asyncio.to_thread(reader.thread.join)


def get_hub(request: Request) -> LiveHub:
    """The dependency that hands routes the application's `LiveHub` (made at startup)."""
    return request.app.state.live


HubDep = Annotated[LiveHub, Depends(get_hub)]


@router.post("/v1/live/offer", openapi_extra=request_body(None, OfferFields), responses=error_responses({
    400: "a malformed request, a body that is not JSON, or an SDP offer that does not parse",
    413: "a body larger than an offer's limit", 415: "a body that is not JSON",
    422: "a field or an option refused (the message names it), or an offer with no video track",
    429: "too many requests in flight from this address, or as many live sessions as --max-live",
    503: "the server is shutting down"}))
async def offer(asked: Annotated[Offer, Depends(read_offer)], hub: HubDep) -> dict:
    """Start a live session: JSON with the browser's `sdp` offer and the options below. Answers
    `sdp`, `type` "answer" and the `session` id; the stylized video comes back on the offer's video
    transceiver, the newest camera frame each time (older ones are dropped)."""
    return await hub.offer(asked)


@router.get("/v1/live/sessions")
def sessions(hub: HubDep) -> list[dict]:
    """The live sessions (WebRTC) and feeds (MJPEG): frames sent and dropped, fps, latency, style."""
    return hub.stats()


@router.delete("/v1/live/sessions/{session_id}", responses=error_responses({404: "no live session with this id"}))
async def end_session(session_id: str, hub: HubDep) -> dict:
    if not await hub.end(session_id):
        raise ApiError(404, f"no live session {session_id[:64]!r}")
    return {"ended": session_id}


@router.get("/v1/live/{source}.mjpg", response_class=StreamingResponse,
            responses={200: {"content": {"multipart/x-mixed-replace": {}}}, **error_responses({
                404: "no --source with this name", 422: "an option refused (the message names it)",
                503: "the source gave no frame, or the server is shutting down"})})
async def mjpeg(source: str, options: Annotated[LiveFields, Query()], hub: HubDep) -> StreamingResponse:
    """A `--source` stylized, as MJPEG (an <img> plays it), with the options of live sessions.
    Viewers asking the same share one reader."""
    feed = await hub.feed(source, options)
    return StreamingResponse(feed.watch(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                             headers={"Cache-Control": "no-store"})
