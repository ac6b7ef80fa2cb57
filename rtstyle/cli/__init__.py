"""`rtstyle` command line: one module per command, each a thin layer over the Python API.

Every command module has `add_parsers(sub)`, which registers its subcommand(s) with their
`cmd_*` function. Nothing here imports torch until a command runs, so `rtstyle --help` is quick.

Errors in the user's input end in one line on stderr and a non-zero exit:
1 error, 2 usage, 3 output written but the input was damaged, 130/143 interrupted
(the output holds the frames done so far).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from .. import __version__
from ..errors import RtstyleError, UsageError
from .terminal import EXIT_ERROR, EXIT_USAGE, setup_logging


def build_parser() -> argparse.ArgumentParser:
    # the command modules load here, not with this package: the console script imports it before
    # `main` can catch a Ctrl-C, and they take a moment (OpenCV)
    from . import batch, bench, convert, engines, eval_temporal, image, live, serve, stream, styles, train

    ap = argparse.ArgumentParser(prog="rtstyle", description="Real-time neural style transfer for video.")
    ap.add_argument("--version", action="version", version=f"rtstyle {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (convert, batch, stream, live, image, serve, eval_temporal, engines, bench, styles, train):
        command.add_parsers(sub)  # in --help's order
    return ap


def main(argv: list[str] | None = None) -> int:
    interrupted = []

    def on_sigint(signum, frame):
        interrupted.append(signum)
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        return _run(argv, interrupted)
    finally:
        signal.signal(signal.SIGINT, previous)


def _run(argv: list[str] | None, interrupted: list) -> int:
    try:  # Ctrl-C can come while the parser or a command imports torch: one line then, too
        args = build_parser().parse_args(argv)
        if getattr(args, "opens_window", False):
            # OpenCV before PyAV (which `setup_logging` loads): OpenCV's Qt window plugin binds PyAV's own
            # libxcb when that loads first, and the window then hangs at 100% CPU (PyAV issue #978)
            import cv2  # noqa: F401
        setup_logging()
        return args.func(args)
    except UsageError as exc:
        print(f"rtstyle: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RtstyleError as exc:
        print(f"rtstyle: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rtstyle: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`rtstyle styles | head`): stop quietly, as shell tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 141
    except Exception as exc:  # a bug: one line by default, the traceback on request
        if interrupted:  # Ctrl-C inside an extension's import surfaces as its ImportError
            print("rtstyle: interrupted", file=sys.stderr)
            return 130
        if os.environ.get("RTSTYLE_DEBUG"):
            raise
        print(f"rtstyle: internal error: {type(exc).__name__}: {exc} (set RTSTYLE_DEBUG=1 for details)",
              file=sys.stderr)
        return EXIT_ERROR

