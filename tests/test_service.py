"""`rtstyle serve` with a real uvicorn server on loopback and a real HTTP client: images, video
jobs in SQLite through a restart, cancelling, and every kind of bad request."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from conftest import decode_errors, ffprobe, stream
from rtstyle.convert import SAMPLE_CLIP
from servers import RtstyleServer

pytestmark = pytest.mark.usefixtures("ffmpeg_tools")

TOKEN = "s3cret+/=token"  # base64's characters: URL-encoded in ?token=


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the tests that do not restart it: small uploads, so limits are quick to pass."""
    data = tmp_path_factory.mktemp("serve") / "data"
    with RtstyleServer(data, "--max-image-mb", "1", "--max-video-mb", "8", "--max-jobs", "2") as s:
        yield s


@pytest.fixture(scope="module")
def photo_png(tmp_path_factory) -> bytes:
    from rtstyle.convert import sample_frames

    ok, buf = cv2.imencode(".png", sample_frames((20,))[0][:, :, ::-1])
    return buf.tobytes()


def wait_state(client: httpx.Client, job_id: str, states: tuple[str, ...], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not {states} after {timeout} s: {job}")


def submit(client: httpx.Client, clip: Path = SAMPLE_CLIP, **options) -> dict:
    with open(clip, "rb") as f:
        r = client.post("/v1/jobs", files={"video": (clip.name, f, "video/mp4")},
                        data={k: str(v) for k, v in options.items()})
    assert r.status_code == 202, r.text
    return r.json()


def test_styles_health_and_openapi(server):
    with httpx.Client(base_url=server.url(), timeout=30) as c:
        assert c.get("/v1/health").json()["status"] == "ok"
        styles = {s["name"]: s for s in c.get("/v1/styles").json()}
        assert styles["starry"]["preview"] and not styles["starry"]["takes_style_image"] and styles["starry"]["default"]
        assert [s for s in styles.values() if s["default"]] == [styles["starry"]]
        assert styles["magenta"]["takes_style_image"] and "starry_lite" not in styles
        preview = c.get(styles["udnie"]["preview"])
        assert preview.headers["content-type"] == "image/jpeg"
        assert cv2.imdecode(np.frombuffer(preview.content, np.uint8), cv2.IMREAD_COLOR).shape[1] == 320
        paths = c.get("/openapi.json").json()["paths"]
        assert {"/v1/images", "/v1/jobs", "/v1/jobs/{job_id}/result", "/v1/styles"} <= set(paths)
        assert c.get("/docs").status_code == 200


def test_openapi_declares_request_bodies_and_error_responses(server):
    """/docs shows what the image, job and live routes take (bodies read by hand, declared for the
    schema) and the errors each route answers, 5xx included, all in the server's {"error"} shape."""
    from rtstyle.temporal import MODE_NAMES

    with httpx.Client(base_url=server.url(), timeout=30) as c:
        spec = c.get("/openapi.json").json()
    paths = spec["paths"]
    for path, form, file in (("/v1/images", "ImageForm", "image"), ("/v1/jobs", "JobForm", "video")):
        content = paths[path]["post"]["requestBody"]["content"]
        fields = content["multipart/form-data"]["schema"]
        assert fields["title"] == form and fields["properties"][file]["format"] == "binary", fields
        assert {"style", "strength", "stroke", "height", "lite", "style_image", "url"} <= set(fields["properties"])
        assert fields["properties"]["strength"]["type"] == "number"
        assert content["application/json"]["schema"]["required"] == ["url"]
    job = paths["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert job["temporal"]["enum"] == list(MODE_NAMES) and job["duration"]["type"] == "number"
    offer = paths["/v1/live/offer"]["post"]["requestBody"]["content"]
    assert list(offer) == ["application/json"] and offer["application/json"]["schema"]["required"] == ["sdp"]
    query = {p["name"] for p in paths["/v1/live/{source}.mjpg"]["get"]["parameters"] if p["in"] == "query"}
    assert query == {"style", "strength", "stroke", "height", "lite", "temporal", "temporal_strength"}

    def errors(path: str, method: str) -> dict:
        return {code: r["content"]["application/json"]["schema"]
                for code, r in paths[path][method]["responses"].items() if not code.startswith("2")}

    shape = {"$ref": "#/components/schemas/ErrorBody"}
    for path, method, codes in (("/v1/images", "post", {"400", "406", "413", "415", "422", "500", "507"}),
                                ("/v1/jobs", "post", {"413", "415", "422", "500", "503", "507"}),
                                ("/v1/jobs/{job_id}/result", "get", {"404", "409", "500", "503"}),
                                ("/v1/styles/{name}/preview.jpg", "get", {"404", "500", "507"}),
                                ("/v1/live/offer", "post", {"413", "415", "422", "429", "500", "503"}),
                                ("/v1/live/{source}.mjpg", "get", {"404", "422", "500", "503"}),
                                ("/v1/health", "get", {"500", "503"})):
        declared = errors(path, method)
        assert codes <= set(declared) and all(s == shape for s in declared.values()), (path, declared)
    assert "401" not in errors("/v1/health", "get") and "401" in errors("/v1/styles", "get")  # open to balancers
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's 422 shape, never sent here
    assert all(code in spec["info"]["description"] for code in ("4xx", "500", "503", "507"))


@pytest.mark.parametrize("module", ["api", "live_views", "state"])
def test_a_route_module_imports_alone(module):
    """No import cycle: each imports first in a fresh interpreter, without the application's module."""
    code = f"import sys, rtstyle.service.{module}; assert 'rtstyle.service.app' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]

def test_without_a_token_only_loopback_names_are_answered(server):
    """A web page whose own name its DNS now points at 127.0.0.1 (DNS rebinding) sends that name
    as Host: refused, as are other names and malformed ones; loopback names, with or without a port,
    are answered. A request must carry one Host header: not none, not a loopback one beside another."""
    with httpx.Client(base_url=server.url(), timeout=30) as c:
        for host in ("evil.example", "evil.example:80", "127.0.0.1.nip.io", "[::2]:80", "localhost.evil.example",
                     "[::1]evil.example", "localhost:evil.example", "127.0.0.1:99999", "127.1", "2130706433"):
            r = c.get("/v1/styles", headers={"Host": host})
            assert r.status_code == 403 and "loopback" in r.json()["error"], (host, r.text)
        assert c.get("/", headers={"Host": "evil.example"}).status_code == 403  # the page too
        for host in ("localhost", f"localhost:{server.port}", "127.0.0.2", "[::1]:80", "app.localhost", "localhost."):
            assert c.get("/v1/styles", headers={"Host": host}).status_code == 200, host
    for hosts in ([], ["evil.example", "localhost"], ["localhost", "evil.example"]):
        head = "".join(f"Host: {h}\r\n" for h in hosts)
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall(f"GET /v1/styles HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode())
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        status, body = reply.split(b"\r\n", 1)[0], reply.split(b"\r\n\r\n", 1)[1]
        assert status.split()[1] == b"400" and b"one Host header" in body, (hosts, reply[:300])


def test_image_round_trip(server, photo_png, tmp_path):
    photo = cv2.imdecode(np.frombuffer(photo_png, np.uint8), cv2.IMREAD_COLOR)
    with httpx.Client(base_url=server.url(), timeout=60) as c:
        r = c.post("/v1/images", files={"image": ("x.bin", photo_png)}, data={"style": "udnie", "height": "180"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        out = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
        assert out.shape[0] == 180 and abs(out.shape[1] - 180 * photo.shape[1] / photo.shape[0]) <= 1
        small = cv2.resize(photo, out.shape[1::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(out.astype(int) - small).mean() > 10  # stylized, not the photo back

        r = c.post("/v1/images", files={"image": ("x.png", photo_png)}, data={"style": "udnie", "height": "180",
                                                                               "strength": "0"},
                   headers={"Accept": "image/jpeg"})
        assert r.headers["content-type"] == "image/jpeg"
        kept = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
        assert np.abs(kept.astype(int) - small).mean() < 4  # strength 0: the photo itself

        # any picture as the style (the built-in arbitrary network), and an image given by URL
        painting = cv2.imencode(".jpg", np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))[..., None]
                                .repeat(3, 2))[1].tobytes()
        r = c.post("/v1/images", files={"image": ("a", photo_png), "style_image": ("b", painting)},
                   data={"height": "120"})
        assert r.status_code == 200, r.text
        r = c.post("/v1/images", json={"url": server.url("/v1/styles/starry/preview.jpg"), "style": "candy"},
                   headers={"Accept": "image/webp"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/webp"


def test_video_job_to_result_with_audio_and_ranges(server, tmp_path):
    with httpx.Client(base_url=server.url(), timeout=60) as c:
        job = submit(c, style="udnie", height=96)
        assert job["state"] == "queued" and job["result"] is None
        with c.stream("GET", f"/v1/jobs/{job['id']}/events") as events:
            seen = [json.loads(line[5:]) for line in events.iter_lines() if line.startswith("data:")]
        assert seen[-1]["state"] == "done" and seen[-1]["progress"] == 100
        done = c.get(f"/v1/jobs/{job['id']}").json()
        assert done["frames"] == done["total_frames"] == 156 and done["result"]
        result = tmp_path / "result.mp4"
        result.write_bytes(c.get(done["result"]).content)
        info = ffprobe(result)
        video = stream(info, "video")
        assert int(video["nb_read_frames"]) == 156 and video["height"] == 96
        assert float(stream(info, "audio")["duration"]) > 5
        part = c.get(done["result"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == result.read_bytes()[100:200]
        assert job["id"] in {j["id"] for j in c.get("/v1/jobs").json()}
        assert c.delete(f"/v1/jobs/{job['id']}").json() == {"deleted": job["id"]}
        assert c.get(f"/v1/jobs/{job['id']}").status_code == 404


def test_cancel_mid_run_leaves_a_playable_partial_result(server, tmp_path):
    with httpx.Client(base_url=server.url(), timeout=60) as c:
        job = submit(c, style="starry", height=360, temporal="quality")
        running = wait_state(c, job["id"], ("running",))
        deadline = time.monotonic() + 60
        while c.get(f"/v1/jobs/{job['id']}").json()["frames"] < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        cancelled = c.delete(f"/v1/jobs/{running['id']}").json()
        assert cancelled["state"] == "cancelled" and cancelled["result"], cancelled
        result = tmp_path / "partial.mp4"
        result.write_bytes(c.get(cancelled["result"]).content)
        frames = int(stream(ffprobe(result), "video")["nb_read_frames"])
        assert 5 <= frames < 156 and decode_errors(result) == ""


@pytest.mark.slow
def test_jobs_survive_a_restart_and_finish(tmp_path):
    """...and, with --keep-jobs DAYS, the ones that ended longer ago go, results and all."""
    data = tmp_path / "data"
    with RtstyleServer(data) as s:
        with httpx.Client(base_url=s.url(), timeout=60) as c:
            ids = [submit(c, style="udnie", height=144)["id"] for _ in range(3)]
            wait_state(c, ids[0], ("running",))
        s.stop()  # mid-queue: one running, two queued
        db = sqlite3.connect(data / "jobs.sqlite3")
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
        states = dict(db.execute("SELECT id, state FROM jobs").fetchall())
        db.close()
        assert set(states) == set(ids) and set(states.values()) == {"queued"}, states  # the running one too
        s.start()
        with httpx.Client(base_url=s.url(), timeout=60) as c:
            assert {j["id"] for j in c.get("/v1/jobs").json()} == set(ids)
            for i in ids:
                job = wait_state(c, i, ("done", "failed", "cancelled"), timeout=180)
                assert job["state"] == "done" and job["frames"] == 156, job
        s.restart()  # and a finished result is never lost
        with httpx.Client(base_url=s.url(), timeout=60) as c:
            assert all(c.get(f"/v1/jobs/{i}/result").status_code == 200 for i in ids)
        s.stop()
        with contextlib.closing(sqlite3.connect(data / "jobs.sqlite3")) as db, db:
            db.execute("UPDATE jobs SET updated = ? WHERE id = ?", (time.time() - 8 * 86400, ids[0]))
        s.args = ("--keep-jobs", "7")
        s.start()
        with httpx.Client(base_url=s.url(), timeout=60) as c:
            assert c.get(f"/v1/jobs/{ids[0]}").status_code == 404 and not (data / "jobs" / ids[0]).exists()
            assert all(c.get(f"/v1/jobs/{i}/result").status_code == 200 for i in ids[1:])


def test_a_token_is_required_when_given_and_for_any_other_address(tmp_path):
    refused = subprocess.run([sys.executable, "-m", "rtstyle", "serve", "--host", "0.0.0.0", "--data",
                              str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--token" in refused.stderr and len(refused.stderr.splitlines()) == 1
    taken = socket.create_server(("127.0.0.1", 0))
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / "jobs").write_text("a file where the jobs folder goes")
    for args, words in ((["--port", str(taken.getsockname()[1])], "cannot listen on 127.0.0.1"),
                        (["--data", "/dev/null"], "not a folder"),
                        (["--data", str(tmp_path / "blocked")], "cannot keep the service's files there")):
        proc = subprocess.run([sys.executable, "-m", "rtstyle", "serve", "--data", str(tmp_path / "d"), *args],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1 and words in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    taken.close()
    origin = "http://page.example"
    with RtstyleServer(tmp_path / "data", "--token", TOKEN, "--cors", origin, "--log-level", "info") as s, \
            httpx.Client(base_url=s.url(), timeout=30) as c:
        assert c.get("/v1/health").status_code == 200  # open: load balancers ask it
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                        {"Authorization": "Bearer \u00e9t\u00e9".encode()}):
            r = c.get("/v1/styles", headers=headers)
            assert r.status_code == 401 and "token" in r.json()["error"]
        assert c.get("/v1/styles", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        named = {"Authorization": f"Bearer {TOKEN}", "Host": "rtstyle.example"}  # the token, not the name, admits
        assert c.get("/v1/styles", headers=named).status_code == 200
        assert c.get("/v1/jobs", params={"token": TOKEN}).status_code == 200  # as <img> and EventSource send it
        preflight = c.options("/v1/images", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                     "Access-Control-Request-Headers": "authorization"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
    assert TOKEN not in s.log.read_text() and "token=***" in s.log.read_text()  # not in the access log


def _raw_upload(port: int, path: str, chunks: int, chunk: bytes) -> tuple[str, int]:
    """POST a chunked body of up to `chunks` x `chunk` bytes; returns the status line and the bytes
    the server let through before it answered."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     f"Transfer-Encoding: chunked\r\n\r\n".encode())
        body = b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n"
        sock.sendall(b"%x\r\n%s\r\n" % (len(body), body))
        sock.setblocking(False)
        answer = b""
        for _ in range(chunks):
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
            try:
                answer += sock.recv(4096)
            except BlockingIOError:
                continue
            if answer:
                break
        sock.setblocking(True)
        while b"\r\n" not in answer:
            more = sock.recv(4096)
            if not more:
                break
            answer += more
    return answer.split(b"\r\n")[0].decode(), sent


def test_oversize_uploads_are_refused_early(server, photo_png):
    with httpx.Client(base_url=server.url(), timeout=30) as c:
        big = b"\x89PNG" + bytes(3 * 1024 * 1024)
        r = c.post("/v1/images", files={"image": ("big.png", big)})
        assert r.status_code == 413 and "limit" in r.json()["error"]
    status, sent = _raw_upload(server.port, "/v1/images", 400, bytes(64 * 1024))  # 25 MiB offered, 1 MiB allowed
    assert " 413 " in status and sent < 12 * 1024 * 1024, (status, sent)


@pytest.fixture(scope="module")
def truncated_mp4(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "cut.mp4"
    path.write_bytes(SAMPLE_CLIP.read_bytes()[:40_000])
    return path


def test_bad_requests_are_one_line_4xx_and_the_server_lives(server, truncated_mp4, photo_png, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with httpx.Client(base_url=server.url(), timeout=60) as c:
        cases = [
            c.post("/v1/jobs", files={"video": ("notes.mp4", text.read_bytes(), "video/mp4")}),
            c.post("/v1/jobs", files={"video": ("cut.mp4", truncated_mp4.read_bytes(), "video/mp4")}),
            c.post("/v1/jobs", json={"url": "file:///etc/passwd"}),
            c.post("/v1/jobs", json={"style": "udnie"}),
            c.post("/v1/images", files={"image": ("a.png", photo_png)}, data={"style": "../../etc/passwd"}),
            c.post("/v1/images", files={"image": ("a.png", photo_png)}, data={"style": "nope"}),
            c.post("/v1/images", files={"image": ("a.png", photo_png)}, data={"strength": "2"}),
            c.post("/v1/images", files={"image": ("a.png", photo_png)}, data={"height": "nan"}),
            c.post("/v1/images", files={"image": ("a.png", photo_png[:500])}),
            c.post("/v1/images", files={"image": ("a.png", b"")}),
            c.post("/v1/images", content=b"{not json", headers={"Content-Type": "application/json"}),
            c.post("/v1/images", json={"image": 1}),
            c.post("/v1/jobs", json={"video": {"a": 1}}),
            c.post("/v1/jobs", json={"url": "http:/127.0.0.1/x.mp4"}),
            c.post("/v1/jobs", json={"url": "http://127.0.0.1/" + "x" * 70_000}),
            c.post("/v1/images", content=b"raw", headers={"Content-Type": "text/plain"}),
            c.post("/v1/images", json={"url": "http://127.0.0.1:1/nothing.png"}),
            c.post("/v1/images", files={"image": ("a.png", photo_png)}, headers={"Accept": "text/html"}),
            c.get("/v1/jobs/../../etc/passwd"),
            c.get("/v1/jobs/..%2F..%2Fetc%2Fpasswd"),
            c.get("/v1/jobs/not-a-uuid/result"),
            c.get("/v1/jobs/00000000-0000-4000-8000-000000000000"),
            c.delete("/v1/jobs/%2e%2e"),
            c.get("/v1/styles/..%2fjobs.sqlite3/preview.jpg"),
            c.get("/v1/styles/magenta/preview.jpg"),
        ]
        for r in cases:
            assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
            error = r.json()["error"]
            assert error and "\n" not in error and "Traceback" not in error, error
        assert "not a video" in cases[0].json()["error"] and "cut.mp4" in cases[1].json()["error"]
        assert str(server.data) not in cases[1].json()["error"]  # the server's folders stay private
        assert cases[4].json()["error"].startswith("style: unknown style")

        def bad(i: int) -> int:
            # A client per request: httpcore 1.0.9's pool, shared by 32 threads, can close a connection
            # it has just handed to another thread (encode/httpcore#1110), a client-side EBADF.
            with httpx.Client(base_url=server.url(), timeout=60) as own:
                kind = i % 4
                if kind == 0:
                    return own.post("/v1/images", files={"image": ("a", b"junk" * i)}).status_code
                if kind == 1:
                    return own.get(f"/v1/jobs/{'../' * i}x").status_code
                if kind == 2:
                    return own.post("/v1/jobs", files={"video": ("v.mp4", b"\x00" * 1000)}).status_code
                return own.post("/v1/images", json={"url": f"ftp://x/{i}"}).status_code

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(bad, range(100)))
        assert all(400 <= code < 500 for code in codes), sorted(set(codes))
        assert c.get("/v1/health").status_code == 200
        jobs = {j["id"] for j in c.get("/v1/jobs").json()}
    assert {d.name for d in (server.data / "jobs").iterdir()} <= jobs  # refused uploads left nothing behind
    assert "Traceback" not in server.log.read_text()


def test_shared_model_batches_frames_of_concurrent_clients():
    """Eight clients at once: fewer network calls than frames, and the same pictures as one by one."""
    from rtstyle.service.models import ModelKey, ModelPool

    assert ModelPool().get(ModelKey("udnie")).batching is False  # on a CPU it costs throughput (BENCHMARKS.md)
    pool = ModelPool(max_wait=0.05, batching=True)
    model = pool.get(ModelKey("udnie"))
    view = model.view()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(8)]
    alone = [view(f) for f in frames]
    start = threading.Barrier(8)

    def client(i: int) -> np.ndarray:
        start.wait()
        return model.run(view, frames[i])

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        together = list(ex.map(client, range(8)))
    assert model.frames == 8 and model.calls < 8
    for a, b in zip(alone, together):
        assert np.abs(a.astype(int) - b).max() <= 2
    other = model.view(strength=0.5)
    assert model.view(strength=0.5) is other and other is not view and other.runtime is view.runtime
    pool.close()


def test_a_jobs_database_locked_by_another_process_is_a_503(server):
    """Another process holding the database past SQLite's 5 s wait (a backup, sqlite3 by hand):
    503 with Retry-After, not an internal error, and the server goes on once it lets go."""
    with contextlib.closing(sqlite3.connect(server.data / "jobs.sqlite3", isolation_level=None)) as db:
        db.execute("BEGIN EXCLUSIVE")
        with httpx.Client(base_url=server.url(), timeout=60) as c:
            r = c.post("/v1/jobs", json={"url": "http://127.0.0.1:9/never.mp4"})
        db.execute("ROLLBACK")
    assert r.status_code == 503 and "locked by another process" in r.json()["error"], r.text
    assert r.headers["retry-after"] == "5"
    with httpx.Client(base_url=server.url(), timeout=60) as c:
        assert c.get("/v1/jobs").status_code == 200


def test_a_full_disk_is_a_507_and_the_server_goes_on(tmpfs):
    """An upload the server has no room to spool: its fault, not the form's (it was a 400 "malformed
    form"), and nothing of it is left behind."""
    data = tmpfs("1m") / "data"
    with RtstyleServer(data) as s, httpx.Client(base_url=s.url(), timeout=60) as c:
        r = c.post("/v1/jobs", files={"video": ("big.mp4", os.urandom(3_000_000), "video/mp4")})
        assert r.status_code == 507 and r.json() == {"error": "the server's disk is full"}, r.text
        assert c.get("/v1/health").status_code == 200 and not os.listdir(data / ".spool")


def test_jobs_database_migrates_and_refuses_a_newer_one(tmp_path):
    from rtstyle.errors import RtstyleError
    from rtstyle.service.store import MIGRATIONS, JobStore

    store = JobStore(tmp_path / "jobs.sqlite3")
    assert store.version == len(MIGRATIONS)
    store.add("00000000-0000-4000-8000-000000000001", "a.mp4", {"style": "udnie"})
    store.update("00000000-0000-4000-8000-000000000001", state="running")
    store.close()
    again = JobStore(tmp_path / "jobs.sqlite3")
    assert again.requeue_running() == 1 and again.claim().state == "running"
    again.db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    again.close()
    with pytest.raises(RtstyleError, match="newer rtstyle"):
        JobStore(tmp_path / "jobs.sqlite3")
    (tmp_path / "junk.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(RtstyleError, match="not a usable jobs database"):
        JobStore(tmp_path / "junk.sqlite3")
    with contextlib.closing(sqlite3.connect(tmp_path / "edited.sqlite3")) as db:  # current version, wrong table
        db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY)")
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    with pytest.raises(RtstyleError, match="jobs table lacks created, error, "):
        JobStore(tmp_path / "edited.sqlite3")


def test_ended_jobs_past_keep_jobs_go_while_the_server_runs(tmp_path, monkeypatch):
    """--keep-jobs is checked on a timer too: an idle server deletes what has expired."""
    from rtstyle.service import jobs
    from rtstyle.service.store import JobStore

    monkeypatch.setattr(jobs, "PRUNE_EVERY", 0.05)
    store = JobStore(tmp_path / "jobs.sqlite3")
    runner = jobs.JobRunner(store, tmp_path / "jobs", pool=None, workers=0, keep_days=2 / 86400)
    for state in ("done", "failed", "cancelled", "queued"):
        job_id, folder = runner.new_folder()
        (folder / jobs.RESULT).write_bytes(b"result")
        store.add(job_id, "in.mp4", {})
        store.update(job_id, state=state)
    runner.start()
    try:
        time.sleep(0.3)
        assert len(store.list()) == 4  # none ended 2 s ago yet
        deadline = time.monotonic() + 10
        while len(store.list()) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        left = store.list()
        assert [j.state for j in left] == ["queued"]  # waiting, not ended
        assert [p.name for p in (tmp_path / "jobs").iterdir()] == [left[0].id]
    finally:
        runner.close()
        store.close()


def test_a_job_from_an_http_url(server):
    """The server fetches the video itself (every frame, audio kept); a dead URL fails the job with one line."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SAMPLE_CLIP.parent))
    handler.log_message = lambda *a: None
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    try:
        with httpx.Client(base_url=server.url(), timeout=60) as c:
            url = f"http://127.0.0.1:{files.server_port}/{SAMPLE_CLIP.name}"
            job = c.post("/v1/jobs", json={"url": url, "style": "udnie", "height": 72}).json()
            assert job["input"] == url
            dead = c.post("/v1/jobs", json={"url": f"http://127.0.0.1:{files.server_port}/gone.mp4"}).json()
            done = wait_state(c, job["id"], ("done", "failed"))
            assert done["state"] == "done" and done["frames"] == 156, done
            failed = wait_state(c, dead["id"], ("done", "failed"))
            assert failed["state"] == "failed" and "\n" not in failed["error"] and "gone.mp4" in failed["error"]
    finally:
        files.shutdown()


def test_a_job_records_an_rtsp_stream_for_its_duration(server, gst):
    from servers import free_port, gst_file_server, stop

    port = free_port()
    camera = gst_file_server(SAMPLE_CLIP, port)
    try:
        with httpx.Client(base_url=server.url(), timeout=60) as c:
            job = c.post("/v1/jobs", json={"url": f"rtsp://127.0.0.1:{port}/clip", "style": "udnie", "height": 72,
                                           "duration": 2}).json()
            done = wait_state(c, job["id"], ("done", "failed"), timeout=60)
            assert done["state"] == "done" and done["result"], done
            assert 10 <= done["frames"] <= 100  # about 2 s of a 25 fps camera
    finally:
        stop(camera)


@pytest.mark.slow
def test_serve_on_ray_runs_the_model_as_an_autoscaled_deployment(tmp_path, photo_png):
    with RtstyleServer(tmp_path / "data", "--ray", "--max-replicas", "2", timeout=120) as s, \
            httpx.Client(base_url=s.url(), timeout=120) as c:
        ray = c.get("/v1/health").json()["ray"]
        assert ray["replicas"] == 1 and ray["max_replicas"] == 2 and "RUNNING" in ray["status"]
        images = [c.post("/v1/images", files={"image": ("a.png", photo_png)}, data={"style": "udnie", "height": "96"})
                  for _ in range(2)]
        assert all(r.status_code == 200 and r.headers["content-type"] == "image/png" for r in images)
        bad = c.post("/v1/images", files={"image": ("a.png", photo_png)}, data={"style": "magenta"})
        assert bad.status_code == 422 and bad.json()["error"] == "style 'magenta' needs a style image (style_image)"


def test_a_server_open_to_others_fetches_public_urls_only():
    """Bound beyond loopback, the server refuses URLs of loopback, private and link-local hosts
    (cloud metadata), so clients cannot reach the networks behind it through it."""
    from rtstyle.service.http import ApiError
    from rtstyle.service.uploads import check_url

    for url in ("http://127.0.0.1:8000/v1/health", "http://10.0.0.7/a.png", "http://169.254.169.254/latest/",
                "rtsp://192.168.1.20/stream", "http://[::1]/x", "http://localhost/x"):
        with pytest.raises(ApiError, match="not a public address"):
            check_url(url, private=False, schemes=("http", "rtsp"))
        assert check_url(url, private=True, schemes=("http", "rtsp")) == url
    for url in ("http:/127.0.0.1/x", "file:///etc/passwd", "http://", "x" * 3000):
        with pytest.raises(ApiError, match="url:"):
            check_url(url, private=True)


def test_a_trickling_download_is_cancelled_promptly(server):
    """A server sending a video a byte at a time ties nothing up: the job is cancelled at once."""
    import http.server

    stop = threading.Event()

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "100000000")
            self.end_headers()
            self.wfile.write(b"\x00\x00\x00\x20ftypisom" + bytes(20))
            while not stop.is_set():
                self.wfile.write(b"\x00")
                self.wfile.flush()
                stop.wait(0.5)

        def log_message(self, *args):
            pass

    slow = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    try:
        with httpx.Client(base_url=server.url(), timeout=60) as c:
            job = c.post("/v1/jobs", json={"url": f"http://127.0.0.1:{slow.server_port}/v.mp4"}).json()
            wait_state(c, job["id"], ("running",))
            time.sleep(1.0)
            t = time.monotonic()
            cancelled = c.delete(f"/v1/jobs/{job['id']}").json()
            assert cancelled["state"] == "cancelled" and time.monotonic() - t < 5, cancelled
            assert not (server.data / "jobs" / job["id"] / "input").exists()
    finally:
        stop.set()
        slow.shutdown()


def test_uploads_spool_in_the_data_folder_and_leave_tempdir_alone(tmp_path):
    """An upload too big for memory spools in the data folder's .spool, unlinked at once and closed
    with the request; making the application leaves the process's tempfile.tempdir as it was, so
    other code's temporary files stay where they were."""
    import asyncio
    import tempfile

    from starlette.requests import Request

    from rtstyle.service.app import create_app
    from rtstyle.service.state import ServiceSettings
    from rtstyle.service.uploads import form_of

    before = tempfile.tempdir
    service = create_app(ServiceSettings(data=tmp_path / "data")).state.service
    try:
        assert tempfile.tempdir == before
        body = (b'--b\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n\r\n' + bytes(3 << 20)
                + b"\r\n--b--\r\n")

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        request = Request({"type": "http", "method": "POST", "path": "/v1/jobs",
                           "headers": [(b"content-type", b"multipart/form-data; boundary=b")]}, receive)

        async def spooled():
            async with form_of(request, service.spool) as form:
                video = form["video"]
                assert video.size == 3 << 20 and not video._in_memory
                return os.readlink(f"/proc/self/fd/{video.file.fileno()}"), video

        where, video = asyncio.run(spooled())
        assert where.startswith(os.path.realpath(service.spool) + os.sep) and where.endswith(" (deleted)"), where
        assert video.file.closed and os.listdir(service.spool) == []
    finally:
        service.close()
