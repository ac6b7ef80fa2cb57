"""rtstyle: real-time neural style transfer for video.

The package follows the data flow: `sources` -> `backends` (running `models`) ->
`temporal` (flicker smoothing) -> `sinks`, joined by `pipeline`; `convert` holds the offline jobs, `stream` and `live` the live
ones, and `cli` the command line.
The names below are the Python API; they load lazily so `rtstyle --help` stays quick.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "available_styles": "rtstyle.models.library",
    "resolve_style": "rtstyle.models.library",
    "import_style": "rtstyle.models.importing",
    "create_backend": "rtstyle.backends",
    "VideoConversion": "rtstyle.convert",
    "load_backend": "rtstyle.backends",
    "stylize_image": "rtstyle.convert",
    "EncoderSettings": "rtstyle.sinks",
    "open_sink": "rtstyle.sinks",
    "open_source": "rtstyle.sources",
    "Pipeline": "rtstyle.pipeline",
    "Policy": "rtstyle.pipeline",
    "StreamJob": "rtstyle.stream_job",
    "SourceOptions": "rtstyle.stream_job",
    "TemporalSmoother": "rtstyle.temporal",
    "RtstyleError": "rtstyle.errors",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'rtstyle' has no attribute {name!r}")
