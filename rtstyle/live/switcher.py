"""The styles `n`/`b` step through, and switching between them without stopping the window.

A style not loaded yet is loaded on a helper thread (an ONNX export or an engine build takes
a while) while the old one stays on screen; the last few shown stay loaded, so back and
forth is instant without holding every style.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..backends import Backend
from ..errors import RtstyleError
from ..models.library import DEFAULT_STYLE, LITE_SUFFIX, available_styles, is_lite, needs_style_image

BACKENDS_KEPT = 4  # styles kept loaded


@dataclass
class StyleCycle:
    """What the live `n`/`b` keys step through: style labels, how to load one, and (optionally)
    `warm_up(stop)`, work a helper thread can do ahead so that a later switch is quick."""

    labels: list[str]
    load: Callable[[str], Backend]
    start: int = 0  # the label shown first
    warm_up: Callable[[threading.Event], None] | None = None


def style_cycle(first: str | None, lite: bool, load: Callable[[str], Backend]) -> StyleCycle:
    """Every style that needs no style image, starting at `first` (default: the default style).
    Lite variants come in through `lite` (each style's, where it has one; presets are their own),
    and a style file given by path joins the cycle."""
    styles = available_styles()
    names = [n for n, st in styles.items() if not needs_style_image(st) and not is_lite(st)]
    if lite:
        names = [n for n in names if f"{n}{LITE_SUFFIX}" in styles
                 or styles[n].architecture.preset]
    first = first or DEFAULT_STYLE
    if first not in names:
        names.insert(0, first)
    return StyleCycle(names, load, names.index(first))


def style_image_cycle(base: Backend, paths: list[Path], alpha: float = 1.0,
                      preserve_color: bool = False) -> StyleCycle:
    """An arbitrary-style model stepping through style images, each bound when chosen. Where the
    model caches what it computes of a style image (AdaIN's statistics), `warm_up` does that for
    every image ahead, so a switch costs milliseconds. The first image is read here: a bad one
    fails with one line before a window opens."""
    from ..images import read_image

    by_label: dict[str, Path] = {}
    for p in paths:
        by_label[p.stem if p.stem not in by_label else f"{p.stem}-{len(by_label)}"] = p
    read_image(paths[0])

    def load(label: str) -> Backend:
        return base.with_style([read_image(by_label[label])], alpha=alpha, preserve_color=preserve_color)

    def warm_up(stop: threading.Event) -> None:
        for label in list(by_label)[1:]:
            if stop.is_set():
                return
            try:
                load(label)
            except RtstyleError:
                pass  # reported when the user picks it

    return StyleCycle(list(by_label), load, warm_up=warm_up if base.adapter.caches_styles else None)


def load_ready(load: Callable[[str], Backend], prepare: Callable[[Backend], None],
               name: str) -> Backend | RtstyleError:
    """`name` loaded and prepared, or why not: on a helper thread nothing may escape, and a bug in one
    style must not take the window down."""
    try:
        backend = load(name)
        prepare(backend)
        return backend
    except RtstyleError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - see above
        return RtstyleError(f"internal error: {type(exc).__name__}: {exc}")


def _ignore(*_: object) -> None:
    pass


class StyleSwitcher:
    """The style on screen (`active`) and the one selected (`selected`, which runs ahead while one
    loads). The first style is loaded here, at once. `show(name, backend)` puts a style on screen
    (on the UI thread); `prepare(backend)` runs on the loader thread after the load (a TensorRT
    engine is found or built there); `say(text, seconds)` tells the user."""

    def __init__(self, cycle: StyleCycle, show: Callable[[str, Backend], None] = _ignore,
                 prepare: Callable[[Backend], None] = _ignore, say: Callable[[str, float], None] = _ignore,
                 kept: int = BACKENDS_KEPT):
        self.labels, self.load, self.selected = cycle.labels, cycle.load, cycle.start
        self.show, self.prepare, self.say, self.kept = show, prepare, say, kept
        self.active = self.labels[self.selected]
        self.loaded: OrderedDict[str, Backend] = OrderedDict({self.active: self.load(self.active)})
        self._loading: tuple[str, threading.Thread, list] | None = None  # (name, loader, [backend or error])

    @property
    def shown(self) -> Backend:
        return self.loaded[self.active]

    def step(self, step: int) -> None:
        """The next (`step` 1) or previous (-1) style in the cycle."""
        self.selected = (self.selected + step) % len(self.labels)
        self._select(self.labels[self.selected])

    def _select(self, name: str) -> None:
        """Show `name`: at once if it is loaded, else once a helper thread has loaded it."""
        if name in self.loaded:
            self._activate(name)
        elif self._loading is None:
            result: list = []
            loader = threading.Thread(target=lambda: result.append(load_ready(self.load, self.prepare, name)),
                                      name="rtstyle-style-load", daemon=True)
            self._loading = (name, loader, result)
            loader.start()
            self.say(f"loading {name}…", 60)
        # else: one load at a time; `poll` starts the next once this one is done

    def _activate(self, name: str) -> None:
        self.loaded.move_to_end(name)
        self.show(name, self.loaded[name])
        self.active = name
        while len(self.loaded) > self.kept:  # the oldest goes, never the one shown
            self.loaded.popitem(last=False)
        self.say(f"style: {name}", 2.5)

    def poll(self) -> None:
        """On the UI thread: take a finished load, and switch to it if it is still the one selected."""
        if self._loading is None or self._loading[1].is_alive():
            return
        name, _, (result,) = self._loading
        self._loading = None
        if isinstance(result, RtstyleError):
            self.say(f"cannot load {name}: {result}", 5)
            if self.labels[self.selected] == name:
                self.selected = self.labels.index(self.active)
                return
        else:
            self.loaded[name] = result
        self._select(self.labels[self.selected])  # the selection may have moved on meanwhile

    def settle(self, timeout: float = 600.0) -> None:
        """Wait until the selected style is loaded and shown (scripted use and tests)."""
        deadline = time.monotonic() + timeout
        while self._loading is not None and time.monotonic() < deadline:
            self._loading[1].join(max(0.0, deadline - time.monotonic()))
            self.poll()

    def join(self) -> None:
        """Wait for a load under way: never leave a thread inside torch as the process exits."""
        if self._loading:
            self._loading[1].join()
