"""Live views: a browser's webcam over WebRTC, stylized and sent back; MJPEG of server-side sources."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()


class LiveHub:
    """The live sessions of one server."""

    def __init__(self, service):
        self.service = service

    async def close(self) -> None:
        pass
