"""What the commands show on the terminal: warnings, --stats, progress, and Ctrl-C handling."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from typing import Callable


EXIT_ERROR, EXIT_USAGE, EXIT_DAMAGED_INPUT = 1, 2, 3


def terminal():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def warn_fixed_size(backend) -> None:
    if backend.fixed_size:
        h, w = backend.fixed_size
        terminal().print(f"[yellow]note: style {backend.style.name!r} only takes {w}x{h} input: "
                         f"frames are resized to that and back, so fine detail is lost[/]")


CLEAR_LINE = "\r\x1b[K"  # back to the start of the terminal line and erase it


class _LogHandler(logging.Handler):
    """rtstyle's warnings (a stream reconnecting, say) as one line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"{CLEAR_LINE if sys.stderr.isatty() else ''}rtstyle: {record.levelname.lower()}: "
                         f"{record.getMessage()}\n")
        sys.stderr.flush()


def setup_logging() -> None:
    """rtstyle's warnings as one line each; FFmpeg's own chatter off (rtstyle reports what matters)."""
    import av.logging

    av.logging.set_level(av.logging.ERROR)
    logger = logging.getLogger("rtstyle")
    if not logger.handlers:
        logger.addHandler(_LogHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False


class StatsPrinter:
    """--stats: one updating line on stderr about once a second, and the summary at the end."""

    def __init__(self, enabled: bool, interval: float = 1.0):
        self.enabled, self.interval = enabled, interval
        self.tty = sys.stderr.isatty()
        self._next = time.monotonic() + interval

    def __call__(self, stats) -> None:
        if not self.enabled or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.interval
        end = "" if self.tty else "\n"
        sys.stderr.write(f"{CLEAR_LINE if self.tty else ''}stats: {stats.line()}{end}")
        sys.stderr.flush()

    def summary(self, stats) -> None:
        if self.enabled:
            sys.stderr.write(("\n" if self.tty else "") + "stats summary:\n" + stats.report() + "\n")
            sys.stderr.flush()


@contextlib.contextmanager
def graceful_stop(stop, message: str):
    """SIGINT/SIGTERM call `stop()` once (the output is finished); a second SIGINT aborts.

    Yields the list of signals caught, for the exit code (128 + signal)."""
    caught: list[int] = []

    def on_signal(signum, _frame):
        if caught:  # a second Ctrl-C: the user really wants out
            raise KeyboardInterrupt
        caught.append(signum)
        terminal().print(f"[yellow]{message}[/]")
        stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def helper_thread(work: Callable[[threading.Event], None], name: str):
    """Run `work(stop)` on a thread for the length of the block, then set `stop` and join it.

    Never leave such a thread running when the command returns: a thread still inside
    torch while Python shuts down is killed there, and the process aborts ("terminate
    called without an active exception") after its output was already written."""
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,), name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
