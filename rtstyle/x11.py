"""Whether a top-level X window with a given title exists, through libX11 (ctypes).

OpenCV's Qt window cannot tell when its X window was destroyed behind its back
(`xdotool windowclose`): it still reports itself visible. `live` asks the X server.
(When the X connection itself is cut, `xdotool windowkill`, Qt ends the process.)
"""

from __future__ import annotations

import ctypes as c
import ctypes.util

_Window = c.c_ulong


class XWindows:
    """A connection of our own to the X server (`display`, default $DISPLAY), closed by `close()`."""

    def __init__(self, display: str | None = None):
        name = ctypes.util.find_library("X11")
        self._x = c.cdll.LoadLibrary(name) if name else None
        self._d = None
        if self._x is None:
            return
        x = self._x
        x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = c.c_void_p, [c.c_char_p]
        x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = _Window, [c.c_void_p]
        x.XQueryTree.argtypes = [c.c_void_p, _Window, c.POINTER(_Window), c.POINTER(_Window),
                                 c.POINTER(c.POINTER(_Window)), c.POINTER(c.c_uint)]
        x.XFetchName.argtypes = [c.c_void_p, _Window, c.POINTER(c.c_char_p)]
        x.XFree.argtypes = [c.c_void_p]
        x.XCloseDisplay.argtypes = [c.c_void_p]
        self._d = x.XOpenDisplay(display.encode() if display else None)

    def exists(self, title: str, depth: int = 2) -> bool | None:
        """Whether a window titled `title` is among the root's children and grandchildren (a
        window manager puts a frame around it); None when the X server cannot be asked."""
        if not self._d:
            return None
        return self._find(self._x.XDefaultRootWindow(self._d), title.encode(), depth)

    def _find(self, window: int, title: bytes, depth: int) -> bool:
        x, root, parent = self._x, _Window(), _Window()
        kids, count = c.POINTER(_Window)(), c.c_uint()
        if not x.XQueryTree(self._d, window, c.byref(root), c.byref(parent), c.byref(kids), c.byref(count)):
            return False
        children = [kids[i] for i in range(count.value)]
        if kids:
            x.XFree(kids)
        for child in children:
            name = c.c_char_p()
            if x.XFetchName(self._d, child, c.byref(name)) and name.value is not None:
                found = name.value == title
                x.XFree(name)
                if found:
                    return True
            if depth > 1 and self._find(child, title, depth - 1):
                return True
        return False

    def close(self) -> None:
        if self._d:
            self._x.XCloseDisplay(self._d)
            self._d = None
