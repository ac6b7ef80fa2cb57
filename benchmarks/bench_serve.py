"""The service under load: image requests to a real `rtstyle serve`, and many live streams on one model.

    python benchmarks/bench_serve.py images   [--concurrency 1 4 16] [--requests 48] [--runs 3]
    python benchmarks/bench_serve.py sessions [--sessions 1 2 4 8] [--seconds 8] [--runs 3]
    python benchmarks/bench_serve.py webrtc   [--sessions 1 2 4] [--seconds 20]

images: a server on a free loopback port (its own process, as users run it); each client sends
a 640x360 JPEG frame of the bundled clip to POST /v1/images (style starry, JPEG back) as soon
as its last answer came; reports request latency p50/p95 and requests/s, median over runs.
sessions: N synthetic live sessions in this process, each a thread sending 640x360 frames
through one `SharedModel` (as WebRTC sessions do) as fast as answers come; reports frames/s
for all sessions together and per-frame latency p50/p95, batched (frames waiting from several
sessions run in one call, waiting at most 5 ms) against not batched, side by side in one run.
webrtc: N aiortc peers, each a 640x360 camera at 30 fps, against a real server; every second
the camera turns white for 3 frames (100 ms) among dark ones, and the time from the first white
frame sent until the peer sees a bright frame come back is the round trip (VP8 both ways,
painting, smoothing, the wait for the painter); reports the painted fps each peer receives and
the round trip p50/p95.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from rtstyle.convert import sample_frames  # noqa: E402
from rtstyle.service.models import SharedModel  # noqa: E402

STYLE = "starry"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def images(args) -> dict:
    import httpx
    from servers import RtstyleServer

    frame = sample_frames((40,))[0]
    jpeg = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    results = {}
    with tempfile.TemporaryDirectory() as d, RtstyleServer(Path(d) / "data", "--per-client", "64") as server:
        with httpx.Client(base_url=server.url(), timeout=300) as c:  # load the model before timing
            c.post("/v1/images", files={"image": ("f.jpg", jpeg)}, data={"style": STYLE})

        def client(n: int, times: list[float]) -> None:
            with httpx.Client(base_url=server.url(), timeout=300) as c:
                for _ in range(n):
                    t = time.perf_counter()
                    r = c.post("/v1/images", files={"image": ("f.jpg", jpeg)}, data={"style": STYLE},
                               headers={"Accept": "image/jpeg"})
                    r.raise_for_status()
                    times.append(time.perf_counter() - t)

        for concurrency in args.concurrency:
            runs = []
            for _ in range(args.runs):
                times: list[float] = []
                per_client = max(1, args.requests // concurrency)
                t0 = time.perf_counter()
                with concurrent.futures.ThreadPoolExecutor(concurrency) as ex:
                    list(ex.map(lambda _: client(per_client, times), range(concurrency)))
                wall = time.perf_counter() - t0
                runs.append({"p50_ms": 1000 * percentile(times, 50), "p95_ms": 1000 * percentile(times, 95),
                             "rps": len(times) / wall})
            results[concurrency] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"concurrency {concurrency}: p50 {results[concurrency]['p50_ms']:.0f} ms, p95 "
                  f"{results[concurrency]['p95_ms']:.0f} ms, {results[concurrency]['rps']:.2f} requests/s", flush=True)
    return {"style": STYLE, "image": f"{frame.shape[1]}x{frame.shape[0]} JPEG", "by_concurrency": results}


def sessions(args) -> dict:
    from rtstyle.backends import load_backend

    frame = sample_frames((40,))[0]
    backend = load_backend(STYLE)
    results: dict = {}
    for batching in (False, True):
        model = SharedModel(backend, batching=batching)
        view = model.view()
        model.run(view, frame)  # warm up
        for n in args.sessions:
            runs = []
            for _ in range(args.runs):
                times: list[float] = []
                stop = time.perf_counter() + args.seconds

                def session() -> None:
                    while time.perf_counter() < stop:
                        t = time.perf_counter()
                        model.run(view, frame)
                        times.append(time.perf_counter() - t)

                threads = [threading.Thread(target=session) for _ in range(n)]
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall = time.perf_counter() - t0
                runs.append({"fps": len(times) / wall, "p50_ms": 1000 * percentile(times, 50),
                             "p95_ms": 1000 * percentile(times, 95)})
            r = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
            results.setdefault(n, {})["batched" if batching else "alone"] = r
            print(f"{n} session(s), {'batched' if batching else 'not batched'}: {r['fps']:.2f} fps in all, "
                  f"p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms", flush=True)
        model.close()
    return {"backend": repr(backend), "frame": f"{frame.shape[1]}x{frame.shape[0]}", "by_sessions": results}


def webrtc(args) -> dict:
    import asyncio

    import httpx
    from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from av import VideoFrame
    from servers import RtstyleServer

    class FlashCamera(MediaStreamTrack):
        """Dark frames at 30 fps, white for 3 of them every second; `flashes` holds when each began."""

        kind = "video"

        def __init__(self):
            super().__init__()
            self.n, self.start, self.flashes = 0, 0.0, []
            self.dark = np.full((360, 640, 3), 40, np.uint8)
            self.dark[::24] = 90  # some structure to paint on

        async def recv(self):
            self.start = self.start or time.monotonic()
            await asyncio.sleep(max(0.0, self.start + self.n / 30 - time.monotonic()))
            flash = 15 <= self.n % 30 < 18
            frame = VideoFrame.from_ndarray(np.full_like(self.dark, 255) if flash else self.dark, format="rgb24")
            frame.pts, frame.time_base = self.n * 3000, Fraction(1, 90000)
            if self.n % 30 == 15:
                self.flashes.append(time.monotonic())
            self.n += 1
            return frame

    async def peer(server, seconds: float) -> dict:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        camera = FlashCamera()
        pc.addTrack(camera)
        await pc.setLocalDescription(await pc.createOffer())
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.post(server.url("/v1/live/offer"), json={"sdp": pc.localDescription.sdp, "type": "offer",
                                                                     "style": STYLE, "strength": 0.5})
        r.raise_for_status()
        await pc.setRemoteDescription(RTCSessionDescription(r.json()["sdp"], "answer"))
        track = next(t.receiver.track for t in pc.getTransceivers() if t.kind == "video")
        seen: list[tuple[float, float]] = []  # (when, mean brightness)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                frame = await asyncio.wait_for(track.recv(), timeout=10)
                seen.append((time.monotonic(), float(frame.to_ndarray(format="gray").mean())))
        finally:
            await pc.close()
        warm = seen[len(seen) // 5][0]  # the first fifth: connecting, loading, the encoder ramping up
        steady = [(t, b) for t, b in seen if t >= warm]
        bright = statistics.median(b for _, b in steady) + 40  # well above the painted dark frames
        trips = []
        for sent in camera.flashes:
            if sent < warm:
                continue
            back = next((t for t, b in steady if t >= sent and b > bright), None)
            if back is not None and back - sent < 1.0:  # a flash dropped unpainted is not a round trip
                trips.append(back - sent)
        return {"fps": len(steady) / (steady[-1][0] - steady[0][0]), "trips": trips}

    results = {}
    with tempfile.TemporaryDirectory() as d, RtstyleServer(Path(d) / "data") as server:
        for n in args.sessions:
            async def together():
                return await asyncio.gather(*(peer(server, args.seconds) for _ in range(n)))

            peers = asyncio.run(together())
            trips = [t for p in peers for t in p["trips"]]
            results[n] = {"fps_per_peer": statistics.median(p["fps"] for p in peers),
                          "round_trip_p50_ms": 1000 * percentile(trips, 50),
                          "round_trip_p95_ms": 1000 * percentile(trips, 95), "flashes_seen": len(trips)}
            r = results[n]
            print(f"{n} peer(s): {r['fps_per_peer']:.1f} fps each, round trip p50 {r['round_trip_p50_ms']:.0f} ms, "
                  f"p95 {r['round_trip_p95_ms']:.0f} ms ({len(trips)} flashes)", flush=True)
    return {"style": STYLE, "camera": "640x360 at 30 fps", "by_peers": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("images")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--requests", type=int, default=48, help="requests per run, shared among the clients")
    p.add_argument("--runs", type=int, default=3)
    p = sub.add_parser("sessions")
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--runs", type=int, default=3)
    p = sub.add_parser("webrtc")
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    result = {"images": images, "sessions": sessions, "webrtc": webrtc}[args.what](args)
    result["machine"] = f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
