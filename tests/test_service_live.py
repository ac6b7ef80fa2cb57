"""`rtstyle serve`'s live views against a real server: an aiortc peer sending a synthetic camera,
MJPEG of a `--source`, and the page at / in headless Chromium with its fake camera."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from collections.abc import Iterator
from fractions import Fraction
from itertools import islice
from statistics import median

import cv2
import httpx
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av import VideoFrame
from conftest import REQUIRE_FIXTURES
from servers import RtstyleServer

CLOCK = Fraction(1, 90000)  # RTP's video clock
MAX_LIVE = 4  # the server's --max-live


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from rtstyle.convert import SAMPLE_CLIP

    folder = tmp_path_factory.mktemp("live")
    with RtstyleServer(folder / "data", "--max-live", str(MAX_LIVE), "--source", f"clip={SAMPLE_CLIP}",
                       "--source", f"broken={folder / 'missing.mp4'}") as s:
        yield s


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def background(w: int, h: int) -> np.ndarray:
    """A smooth colour gradient: what a style network paints strokes on."""
    x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
    return (np.stack([x, y, 1 - x], axis=-1) * 200 + 30).astype(np.uint8)


class Camera(MediaStreamTrack):
    """A synthetic camera: `background` with a white square sweeping across, at `fps`, stamped
    with the time each frame is made; late frames are skipped, as a camera's are."""

    kind = "video"

    def __init__(self, w: int, h: int, fps: float):
        super().__init__()
        self.image, self.period = background(w, h), 1 / fps
        self.sent = 0
        self._start = self._next = 0.0

    async def recv(self) -> VideoFrame:
        if not self._start:
            self._start = self._next = time.monotonic()
        await asyncio.sleep(max(0.0, self._next - time.monotonic()))
        now = time.monotonic()
        self._next = max(self._next + self.period, now)
        image = self.image.copy()
        x = int((now - self._start) * 60) % (image.shape[1] - 16)
        image[8:24, x:x + 16] = 255
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = round((now - self._start) / CLOCK), CLOCK
        self.sent += 1
        return frame


async def offer(server: RtstyleServer, pc: RTCPeerConnection, **options) -> httpx.Response:
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(server.url("/v1/live/offer"),
                               json={"sdp": pc.localDescription.sdp, "type": "offer", **options})


async def sessions(server: RtstyleServer, kind: str = "webrtc") -> list[dict]:
    async with httpx.AsyncClient(timeout=10) as http:
        return [s for s in (await http.get(server.url("/v1/live/sessions"))).json() if s["kind"] == kind]


@pytest.mark.timeout(60)
def test_webrtc_session_paints_and_drops_rather_than_lags(server):
    """A peer sending faster than the server paints gets painted frames back with a bounded delay:
    the server drops what it has no time for instead of queueing it."""
    w, h = 640, 360  # 120 of these a second: more than a server paints on a CPU

    async def main():
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        camera = Camera(w, h, fps=120)
        pc.addTrack(camera)
        received: list[tuple[float, int]] = []  # (when, pts)
        images: list[np.ndarray] = []
        try:
            r = await offer(server, pc)
            assert r.status_code == 200, r.text
            answer = r.json()
            assert answer["type"] == "answer" and answer["session"]
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            incoming = next(t.receiver.track for t in pc.getTransceivers() if t.kind == "video")

            async def read():
                while True:
                    frame = await incoming.recv()
                    received.append((time.monotonic(), frame.pts))
                    if len(images) < 5:
                        images.append(frame.to_ndarray(format="rgb24"))

            reader = asyncio.create_task(read())
            deadline = time.monotonic() + 20
            while len(received) < 10 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert received, "no painted frame came back"
            warm = len(received)
            start = time.monotonic()  # 5 s, longer on a slow machine until 21 frames have come back
            while time.monotonic() < start + 5 or (len(received) - warm <= 20 and time.monotonic() < start + 15):
                await asyncio.sleep(0.1)
            [session] = [s for s in await sessions(server) if s["session"] == answer["session"]]
            sent = camera.sent
            reader.cancel()
        finally:
            await pc.close()
        return answer["session"], session, sent, received[warm:], images

    session_id, stats, sent, received, images = asyncio.run(main())

    assert images[-1].shape == (h, w, 3)  # below the height cap: painted at its own size
    plain = background(w, h)
    assert diff(images[-1], plain) > 25, "the frames came back unpainted"
    texture = lambda a: float(np.abs(np.diff(a.astype(np.int16), axis=1)).mean())  # noqa: E731
    assert texture(images[-1]) > 3 * texture(plain)  # brush strokes on a smooth gradient

    assert stats["state"] == "connected" and stats["style"] == "starry"
    assert stats["frames_sent"] >= len(received) > 20
    assert sent > 1.5 * stats["frames_sent"], "the peer did not send faster than the server paints"
    # what was not painted was dropped, not kept for later
    assert stats["frames_sent"] + stats["frames_dropped"] > 0.8 * sent, (stats, sent)
    # delay: arrival time minus the frame's own time (the peer's clock, offset by a constant) stays
    # flat; a server queueing what it paints slower would fall further behind every second
    lag = [when - float(pts * CLOCK) for when, pts in received]
    quarter = len(lag) // 4
    growth = median(lag[-quarter:]) - median(lag[:quarter])
    assert growth < 0.3, f"the delay grew by {growth:.2f} s in {received[-1][0] - received[0][0]:.1f} s"
    assert stats["latency_ms"] < 500

    async def gone():  # the peer hung up: the server ends the session
        deadline = time.monotonic() + 15
        while any(s["session"] == session_id for s in await sessions(server)):
            assert time.monotonic() < deadline, "the session outlived its peer connection"
            await asyncio.sleep(0.2)

    asyncio.run(gone())


@pytest.mark.timeout(60)
def test_webrtc_offers_checked_bounded_and_ended(server):
    """Bad offers are 4xx one-liners; sessions beyond the limit are refused with 429; DELETE ends one."""
    async def main():
        pcs = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(MAX_LIVE + 1)]
        for pc in pcs:
            pc.addTrack(Camera(64, 48, fps=10))
        try:
            bad = [({"sdp": "v=0\r\n", "type": "offer"}, 422, "no video"),
                   ({"type": "offer"}, 422, "sdp"),
                   ({"sdp": 7}, 422, "sdp")]
            async with httpx.AsyncClient(timeout=30) as http:
                url = server.url("/v1/live/offer")
                r = await http.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
                assert r.status_code == 400 and "JSON" in r.json()["error"]
                await pcs[0].setLocalDescription(await pcs[0].createOffer())
                good = pcs[0].localDescription.sdp
                bad += [({"sdp": good.replace("a=ice-ufrag", "a=x"), "type": "offer"}, 400, "sdp"),
                        ({"sdp": good, "type": "answer"}, 422, "type"),
                        ({"sdp": good, "style": "no_such_style"}, 422, "style"),
                        ({"sdp": good, "style": "/etc/passwd"}, 422, "style"),
                        ({"sdp": good, "height": 1080}, 422, "height"),
                        ({"sdp": good, "temporal": "sometimes"}, 422, "temporal"),
                        ({"sdp": good, "strength": 3}, 422, "strength")]
                for body, status, word in bad:
                    r = await http.post(url, json=body)
                    assert r.status_code == status and word in r.json()["error"], (body, r.status_code, r.text)
                    assert "\n" not in r.json()["error"]
            ids = []
            for pc in pcs[:MAX_LIVE]:
                r = await offer(server, pc, style="mosaic", height=120)
                assert r.status_code == 200, r.text
                ids.append(r.json()["session"])
            r = await offer(server, pcs[-1])
            assert r.status_code == 429 and str(MAX_LIVE) in r.json()["error"]
            listed = await sessions(server)
            assert {s["session"] for s in listed} == set(ids)
            assert all(s["style"] == "mosaic" and s["height"] == 120 for s in listed)
            async with httpx.AsyncClient(timeout=30) as http:
                for i in ids:
                    assert (await http.delete(server.url(f"/v1/live/sessions/{i}"))).json() == {"ended": i}
                r = await http.delete(server.url(f"/v1/live/sessions/{ids[0]}"))
                assert r.status_code == 404 and "error" in r.json()
            assert await sessions(server) == []
        finally:
            await asyncio.gather(*(pc.close() for pc in pcs))

    asyncio.run(main())


def jpegs(response: httpx.Response, count: int) -> tuple[list[np.ndarray], Iterator[bytes]]:
    """The first `count` images of a multipart/x-mixed-replace stream, and the stream's bytes
    iterator: kept while the viewer should stay (dropping it closes the connection)."""
    boundary = response.headers["content-type"].split("boundary=")[1]
    chunks = response.iter_bytes()
    buffer, out = b"", []
    for chunk in chunks:
        buffer += chunk
        while len(out) < count:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = buffer[:head_end].decode()
            assert head.startswith(f"--{boundary}\r\n") and "image/jpeg" in head, head
            length = int(head.rsplit("Content-Length: ", 1)[1])
            if len(buffer) < head_end + 4 + length + 2:
                break
            out.append(cv2.imdecode(np.frombuffer(buffer[head_end + 4:head_end + 4 + length], np.uint8),
                                    cv2.IMREAD_COLOR)[:, :, ::-1])
            buffer = buffer[head_end + 4 + length + 2:]
        if len(out) == count:
            return out, chunks
    raise AssertionError(f"the stream ended after {len(out)} images")


@pytest.mark.timeout(60)
def test_mjpeg_of_a_source_shared_by_viewers_and_stopped_after_the_last(server):
    """Painted JPEGs at the height asked for (a cap); one feed per way of painting, shared by its
    viewers; the source closed once the last viewer leaves; an unknown source 404, a broken one 503."""
    from rtstyle.convert import SAMPLE_CLIP
    from rtstyle.sources import VideoFileSource

    with VideoFileSource(SAMPLE_CLIP, height=180) as clip:  # what the feed reads, from its start
        source = [f.image for f in islice(clip, 48)]
    url = server.url("/v1/live/clip.mjpg?height=180&temporal=off")
    with httpx.Client(timeout=30) as http:
        r = http.get(server.url("/v1/live/nowhere.mjpg"))
        assert r.status_code == 404 and "nowhere" in r.json()["error"]
        assert http.get(server.url("/v1/live/clip.mjpg?style=../x")).status_code == 422
        r = http.get(server.url("/v1/live/broken.mjpg"))
        assert r.status_code == 503 and "broken" in r.json()["error"]
        with (http.stream("GET", url) as first, http.stream("GET", url) as second,
              http.stream("GET", server.url("/v1/live/clip.mjpg?style=mosaic&height=720")) as other):
            assert first.status_code == 200 and first.headers["content-type"].startswith("multipart/x-mixed-replace")
            images, _stay = jpegs(first, 3)
            more, _stay_too = jpegs(second, 2)
            [large], _stay_also = jpegs(other, 1)
            feeds = {f["style"]: f for f in asyncio.run(sessions(server, "mjpeg"))}
        assert feeds["starry"]["viewers"] == 2 and feeds["starry"]["frames_sent"] >= 3
        assert feeds["mosaic"]["viewers"] == 1 and feeds["mosaic"]["source"] == "clip"
        for image in images + more:
            assert image.shape == (180, 320, 3)
            assert min(diff(image, s) for s in source) > 20, "a frame came unpainted"
        assert large.shape == (360, 640, 3)  # the height is a cap: the 360p clip is not scaled up
        deadline = time.monotonic() + 10
        while asyncio.run(sessions(server, "mjpeg")):  # every viewer left: the source is closed
            assert time.monotonic() < deadline, "the feeds kept reading with no viewer"
            time.sleep(0.1)


def browser_or_skip() -> tuple[str, str]:
    found = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not all(found):
        message = "Chromium and chromedriver are needed for the browser test (Debian: apt install chromium " \
                  "chromium-driver)"
        if REQUIRE_FIXTURES:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.mark.timeout(90)
def test_page_in_chromium(server, tmp_path, photo_file, clip):
    """The page at /: a style with its preview, an image and a video stylized through the API, and
    the live view: the fake camera sent, the painted track played back."""
    binary, driver_path = browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1000,1400",
                 f"--user-data-dir={tmp_path / 'chromium'}",
                 # host candidates as addresses, not mDNS names the server would have to resolve
                 "--disable-features=WebRtcHideLocalIpsWithMdns"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    wait = WebDriverWait(driver, 40, poll_frequency=0.2)
    find = lambda element: driver.find_element(By.ID, element)  # noqa: E731
    loaded = lambda element: driver.execute_script(  # noqa: E731
        "const e = document.getElementById(arguments[0]); return e.naturalWidth || e.readyState || 0", element)
    try:
        driver.get(server.url("/"))
        error = find("error")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#style option")) > 2)
        Select(find("style")).select_by_value("starry")
        wait.until(lambda d: loaded("style-preview"))
        find("height").send_keys("240")

        find("image-form").find_element(By.NAME, "image").send_keys(str(photo_file))
        find("image-form").find_element(By.TAG_NAME, "button").click()
        wait.until(lambda d: error.text or loaded("image-out"))
        assert not error.text
        assert loaded("image-out") == 427  # 640x360 at height 240

        find("video-form").find_element(By.NAME, "video").send_keys(str(clip))
        find("video-form").find_element(By.TAG_NAME, "button").click()
        wait.until(lambda d: error.text or loaded("job-out"))  # its metadata: the result plays
        assert not error.text and find("job-status").text.startswith("done")

        find("live-start").click()
        wait.until(lambda d: error.text or int(find("live-frames").text) > 10)
        assert not error.text
        shot = lambda element: cv2.imdecode(np.frombuffer(find(element).screenshot_as_png, np.uint8),  # noqa: E731
                                            cv2.IMREAD_COLOR)
        painted, camera = shot("live-out"), shot("live-in")
        assert painted.shape == camera.shape
        assert painted.std() > 15, "the output video shows no picture"
        assert diff(painted, camera) > 25, "the output video shows the camera unpainted"
        [session] = asyncio.run(sessions(server))
        assert session["state"] == "connected" and session["style"] == "starry" and session["height"] == 240
        find("live-stop").click()
        wait.until(lambda d: not asyncio.run(sessions(server)))
        assert driver.get_log("browser") == []
    finally:
        driver.quit()


@pytest.mark.timeout(60)
def test_shutdown_ends_live_sessions(tmp_path):
    """SIGTERM with a peer connected: the server closes the session and exits cleanly, at once."""

    async def main(server: RtstyleServer) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(Camera(160, 120, fps=15))
        try:
            r = await offer(server, pc, height=120)
            assert r.status_code == 200, r.text
            await pc.setRemoteDescription(RTCSessionDescription(r.json()["sdp"], "answer"))
            incoming = next(t.receiver.track for t in pc.getTransceivers() if t.kind == "video")
            await asyncio.wait_for(incoming.recv(), 20)
            started = time.monotonic()
            await asyncio.to_thread(server.stop)
            # uvicorn shuts down, then raises the signal again: a clean exit by SIGTERM
            assert server.proc.returncode == -signal.SIGTERM and time.monotonic() - started < 5
            deadline = time.monotonic() + 10
            while pc.connectionState not in ("closed", "failed"):
                assert time.monotonic() < deadline, "the server left the peer connected"
                await asyncio.sleep(0.1)
        finally:
            await pc.close()

    with RtstyleServer(tmp_path / "data") as server:
        asyncio.run(main(server))
    log = server.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-2000:]
