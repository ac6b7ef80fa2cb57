"""`rtstyle serve`: the HTTP API, the browser page and the live views (`rtstyle.service`)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
import socket
from pathlib import Path

from ..errors import RtstyleError, UsageError
from .args import count, positive

NEEDS = "rtstyle serve needs the serve extra: pip install 'rtstyle[serve]' (FastAPI, uvicorn, aiortc)"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """Refuse, before anything loads, an address the server could not listen on (uvicorn would
    log the error only after starting up, and exit with its own status)."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise RtstyleError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("RTSTYLE_TOKEN") or None
    if not is_loopback(args.host) and not token:
        raise UsageError(f"--host {args.host} opens the server to other machines: give --token (or RTSTYLE_TOKEN) "
                         f"so only clients with it are served")
    data = Path(args.data).expanduser()
    if data.exists() and not data.is_dir():
        raise RtstyleError(f"--data {data}: not a folder")
    check_port(args.host, args.port)
    try:
        import uvicorn

        from ..service.app import create_app
        from ..service.state import ServiceSettings
    except ImportError as exc:
        raise RtstyleError(f"{NEEDS}: {exc}") from None
    sources = {}
    for spec in args.source or []:
        name, sep, src = spec.partition("=")
        if not sep or not name.isidentifier() or not src:
            raise UsageError(f"--source {spec!r}: expected NAME=SOURCE, e.g. cam=0 or door=rtsp://host/stream")
        sources[name] = src
    settings = ServiceSettings(data=data, token=token, max_jobs=args.max_jobs, keep_jobs=args.keep_jobs,
                               max_video_bytes=int(args.max_video_mb * 1024 * 1024),
                               max_image_bytes=int(args.max_image_mb * 1024 * 1024), per_client=args.per_client,
                               max_live=args.max_live,
                               private_urls=args.allow_private_urls or is_loopback(args.host),
                               cors=tuple(args.cors or ()), sources=sources,
                               batching={"auto": None, "on": True, "off": False}[args.batching], ray=args.ray)
    if args.ray:
        from ..cluster.ray_serve import Scaling

        if args.min_replicas > args.max_replicas:
            raise UsageError(f"--min-replicas {args.min_replicas} is more than --max-replicas {args.max_replicas}")
        settings.scaling = Scaling(args.min_replicas, args.max_replicas, args.target_requests)
    if args.ray:
        from ..cluster.ray_tasks import connect

        # Here, before uvicorn: Ray's core installs a SIGTERM handler that ends the process at once,
        # and uvicorn's own, installed after, must replace it so a stop still shuts down cleanly.
        connect(args.ray)
    app = create_app(settings)
    print(f"rtstyle serve: http://{args.host}:{args.port}/ (API docs at /docs), data in {settings.data}"
          f"{', token required' if token else ''}", flush=True)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            timeout_graceful_shutdown=10)
    logging.getLogger("uvicorn.access").addFilter(_redact_token)  # uvicorn set its loggers up just now
    run_server(config)
    return 0


def _redact_token(record: logging.LogRecord) -> bool:
    """The access log shows `?token=***`, never the token (`<img>` and EventSource send it so)."""
    if isinstance(record.args, tuple):
        record.args = tuple(re.sub(r"(?<=token=)[^&\s]*", "***", a) if isinstance(a, str) else a
                            for a in record.args)
    return True


def run_server(config) -> None:
    """uvicorn, except that live streams (MJPEG, WebRTC) end first on a stop: uvicorn would wait
    for those open responses to finish, up to its graceful timeout, before the app's shutdown."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None):
            live = getattr(config.app.state, "live", None)  # made at startup
            if live is not None:
                await live.close()
            await super().shutdown(sockets)

    Server(config).run()


def add_parsers(sub) -> None:
    p = sub.add_parser("serve", help="style transfer as an HTTP service, with a browser page and live views")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only; "
                                                       "any other needs --token)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--token", help="bearer token clients must send (default: $RTSTYLE_TOKEN)")
    p.add_argument("--data", default="rtstyle-data", help="folder for the jobs database, uploads and results "
                                                          "(default: ./rtstyle-data)")
    p.add_argument("--max-jobs", type=count, default=1, help="videos converted at once (default: 1)")
    p.add_argument("--keep-jobs", type=positive, metavar="DAYS",
                   help="delete ended jobs, results and all, this many days after they end "
                        "(default: keep them until a client deletes them)")
    p.add_argument("--max-video-mb", type=positive, default=2048, help="largest video upload (default: 2048)")
    p.add_argument("--max-image-mb", type=positive, default=50, help="largest image upload (default: 50)")
    p.add_argument("--allow-private-urls", action="store_true",
                   help="fetch image and video URLs on private, loopback and link-local addresses too (default: "
                        "only when the server binds loopback, i.e. serves this machine alone)")
    p.add_argument("--max-live", type=count, default=8, help="WebRTC live sessions at once (default: 8)")
    p.add_argument("--per-client", type=count, default=16, help="requests in flight from one address (default: 16)")
    p.add_argument("--cors", action="append", metavar="ORIGIN",
                   help="allow pages from ORIGIN to call the API (repeat; default: CORS off)")
    p.add_argument("--source", action="append", metavar="NAME=SOURCE",
                   help="a server-side live source, stylized at /v1/live/NAME.mjpg: a camera index, a "
                        "/dev/video path, an RTSP URL or a file (repeat)")
    p.add_argument("--batching", choices=["auto", "on", "off"], default="auto",
                   help="run frames waiting from several clients in one network call (default: auto, on where the "
                        "model runs on a GPU; on a CPU it costs throughput)")
    p.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                   help="run the model as a Ray Serve deployment with autoscaled replicas (auto: a running "
                        "cluster, else a local one); needs the ray extra")
    p.add_argument("--min-replicas", type=count, default=1, help="--ray: replicas kept running (default: 1)")
    p.add_argument("--max-replicas", type=count, default=4, help="--ray: most replicas (default: 4)")
    p.add_argument("--target-requests", type=positive, default=2.0,
                   help="--ray: requests waiting per replica above which replicas are added (default: 2)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_serve)
