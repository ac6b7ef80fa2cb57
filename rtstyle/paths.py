"""Where rtstyle keeps the user's files: XDG base directories, decided in this one place."""

from __future__ import annotations

import os
from pathlib import Path


def _base(variable: str, *default: str) -> Path:
    return Path(os.environ.get(variable) or os.path.join(os.path.expanduser("~"), *default)) / "rtstyle"


def data_dir(name: str) -> Path:
    """`$XDG_DATA_HOME/rtstyle/NAME` (default `~/.local/share/rtstyle/NAME`): what the user keeps (styles)."""
    return _base("XDG_DATA_HOME", ".local", "share") / name


def cache_dir(name: str) -> Path:
    """`$XDG_CACHE_HOME/rtstyle/NAME` (default `~/.cache/rtstyle/NAME`): what can be made again (exports,
    engines, blends, style vectors)."""
    return _base("XDG_CACHE_HOME", ".cache") / name
