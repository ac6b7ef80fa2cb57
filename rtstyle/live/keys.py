"""The live window's keys: one table of what each key does and how the help names it.

The `h` overlay and docs/cli.md (tools/make_cli_docs.py) read the table, and `dispatch`
runs it, so a key cannot do one thing and be documented as another. Kept free of torch
and OpenCV: the docs generator imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .view import ViewState

STRENGTH_STEP = 0.1  # the [ and ] keys
STROKE_STEP = 1.25  # the , and . keys: a factor
ESC = 27


class Controls(Protocol):
    """What the keys act on (`LiveApp`). The methods return the line the window shows, if any."""

    state: ViewState

    def say(self, text: str) -> None: ...

    def step_style(self, step: int) -> None: ...

    def toggle_smoothing(self) -> str: ...

    def change_smoothing(self, step: float) -> str: ...

    def change_stroke(self, factor: float) -> str: ...

    def snapshot(self) -> str | None: ...

    def toggle_recording(self) -> str: ...


Action = Callable[[Controls], "str | None"]


def quit_(controls: Controls) -> None:
    """Bound to q and Esc; `dispatch` ends the window on it, so it never runs."""


@dataclass(frozen=True)
class Key:
    """Keys shown together in the help (`label`, e.g. "n / b") and what each does."""

    label: str
    help: str
    actions: Mapping[int, Action]


def flip(field: str) -> Action:
    """An action turning one of the view's switches (split, paused, help) over."""

    def action(controls: Controls) -> None:
        setattr(controls.state, field, not getattr(controls.state, field))

    return action


KEYS: tuple[Key, ...] = (
    Key("n / b", "next / previous style", {ord("n"): lambda c: c.step_style(1), ord("b"): lambda c: c.step_style(-1)}),
    Key("s", "split: original | stylized", {ord("s"): flip("split")}),
    Key("t", "temporal smoothing on / off", {ord("t"): lambda c: c.toggle_smoothing()}),
    Key("[ / ]", "smoothing strength down / up", {ord("["): lambda c: c.change_smoothing(-STRENGTH_STEP),
                                                  ord("]"): lambda c: c.change_smoothing(STRENGTH_STEP)}),
    Key(", / .", "presets: finer / coarser strokes", {ord(","): lambda c: c.change_stroke(1 / STROKE_STEP),
                                                      ord("."): lambda c: c.change_stroke(STROKE_STEP)}),
    Key("p", "snapshot to PNG", {ord("p"): lambda c: c.snapshot()}),
    Key("r", "start / stop recording to mp4", {ord("r"): lambda c: c.toggle_recording()}),
    Key("space", "pause", {ord(" "): flip("paused")}),
    Key("h", "this help", {ord("h"): flip("help")}),
    Key("q / Esc", "quit", {ord("q"): quit_, ESC: quit_}),
)


def bindings(keys: Sequence[Key] = KEYS) -> dict[int, Action]:
    """Key code -> action, over the whole table; a code bound twice is a mistake in the table."""
    table: dict[int, Action] = {}
    for key in keys:
        for code, action in key.actions.items():
            if code in table:
                raise ValueError(f"key {chr(code)!r} is bound twice")
            table[code] = action
    return table


BINDINGS = bindings()


def dispatch(code: int, controls: Controls, table: Mapping[int, Action] = BINDINGS) -> bool:
    """Do what `code` (a key's low byte) is bound to and show what it says; False when it quits.
    Unbound keys do nothing."""
    action = table.get(code)
    if action is quit_:
        return False
    if action is not None and (line := action(controls)):
        controls.say(line)
    return True


def help_lines(keys: Sequence[Key] = KEYS) -> list[str]:
    """The `h` overlay: one line a row of the table."""
    return [f"{key.label:8s} {key.help}" for key in keys]
