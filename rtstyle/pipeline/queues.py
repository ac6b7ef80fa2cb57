"""The bounded queue between two stages, with the two policies.

offline: a full queue makes the producer wait (back-pressure); nothing is lost.
live:    a full queue drops its oldest frame to make room, so a slow stage never lets
         frames pile up and latency stays bounded; drops are counted.
The end-of-stream marker is never dropped. `abort()` wakes every waiting thread when a
stage fails, so no thread is left blocked.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from enum import Enum
from typing import Callable


class Policy(str, Enum):
    OFFLINE = "offline"
    LIVE = "live"


END = object()  # end of stream: everything before it is finished
TIMEOUT = object()  # `get` waited `timeout` seconds without a frame


class FrameQueue:
    def __init__(self, name: str, size: int, policy: Policy, on_drop: Callable[[str], None] = lambda _: None):
        if size < 1:
            raise ValueError("queue size must be at least 1")
        self.name, self.size, self.leaky = name, size, policy is Policy.LIVE
        self.on_drop = on_drop
        self._items: deque = deque()
        self._cond = threading.Condition()
        self._aborted = False

    def put(self, item: object) -> bool:
        """Queue `item`; False when the pipeline was aborted."""
        with self._cond:
            while len(self._items) >= self.size and not self._aborted:
                if self.leaky and item is not END and self._items[0] is not END:
                    self._items.popleft()
                    self.on_drop(self.name)
                    continue
                self._cond.wait()
            if self._aborted:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> object:
        """The next item; END once aborted; TIMEOUT after `timeout` seconds without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items and not self._aborted:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return TIMEOUT
                self._cond.wait(remaining)
            if self._aborted:
                return END
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def take(self, n: int) -> list:
        """Up to `n` items already waiting (never blocks); stops after END, which is included."""
        out: list = []
        with self._cond:
            while self._items and len(out) < n and not self._aborted:
                out.append(self._items.popleft())
                if out[-1] is END:
                    break
            self._cond.notify_all()
        return out

    def abort(self) -> None:
        with self._cond:
            self._aborted = True
            self._cond.notify_all()
