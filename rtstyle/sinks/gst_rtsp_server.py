"""A small RTSP server on GStreamer's gst-rtsp-server, run as its own process.

It runs under the system Python, which has the GObject bindings (Debian packages
python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-rtsp and the plugin sets),
not under rtstyle's virtual environment, so it imports nothing from rtstyle.

    python3 gst_rtsp_server.py --port 8554 --mount /live --udp 5004
        serves the MPEG-TS/H.264 that rtstyle sends to 127.0.0.1:5004 (`--serve`)
    python3 gst_rtsp_server.py --port 8554 --mount /clip --file clip.mp4
        serves an H.264 MP4 file, from its start for each client, at its own pace

Prints "ready" on stdout once it listens; stops on SIGTERM/SIGINT, and when the process
that started it is gone (even killed with -9: the port must not stay taken).
"""

import argparse
import os
import signal
import sys


PARENT_POLL_MS = 250


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mount", default="/live")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--udp", type=int, help="receive MPEG-TS on this UDP port of 127.0.0.1")
    src.add_argument("--file", help="serve this MP4 (H.264) file")
    args = ap.parse_args()
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer
    except (ImportError, ValueError) as exc:
        print(f"GStreamer RTSP server is not installed: {exc}", file=sys.stderr)
        return 3
    Gst.init(None)
    if args.udp:
        launch = (f"( udpsrc address=127.0.0.1 port={args.udp} caps=\"video/mpegts,systemstream=(boolean)true\" "
                  "! tsdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )")
    else:
        location = args.file.replace("\\", "\\\\").replace('"', '\\"')
        launch = f'( filesrc location="{location}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )'
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(bool(args.udp))  # one live feed for every viewer; files start over per client
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.mount, factory)
    if not server.attach(None):
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    parent = os.getppid()

    def parent_alive() -> bool:  # an orphan is re-parented: its parent id changes
        if os.getppid() != parent:
            loop.quit()
            return False
        return True

    GLib.timeout_add(PARENT_POLL_MS, parent_alive)
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
