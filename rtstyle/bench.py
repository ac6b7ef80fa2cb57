"""`rtstyle bench`: where the time goes, per backend, precision and frame size.

Two measurements per (backend, precision, size):

- model only: frames already decoded in host memory through the backend, host to
  host, split into stages for tensor backends (upload, preprocess, network,
  postprocess, download; each ends with a device sync, so on a GPU the stages add up
  to more than the overlapped pipeline spends);
- end to end: `rtstyle convert` of a clip at that size (decode -> stylize -> encode,
  H.264 on the CPU), with the pipeline's own per-stage medians.

It can also time the encoder alone at several thread counts, to see how many CPU
encoder threads keep up with a GPU (H100s have no NVENC).
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from .backends import Backend, TensorRuntime
from .backends.transform import pad_to_multiple
from .backends.upsample import at_reduced_size, network_size
from .backends.tensor_ops import from_network, to_network
from .backends import load_backend
from .convert import SAMPLE_CLIP, VideoConversion, sample_frames
from .errors import RtstyleError
from .models.formats import StyleMeta, save_style
from .models.library import DEFAULT_STYLE, LITE_SUFFIX, Style
from .models.transformer_net import TransformerNet
from .sinks import EncoderSettings
from .sources import VideoFileSource
from .temporal import TemporalSmoother

SIZES = ("640x360", "1280x720", "1920x1080")
PIPELINE_STAGES = ("source", "preprocess", "inference", "postprocess", "sink")  # decode ... smoothing, encode


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' -> (width, height), even sides (4:2:0 video)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise RtstyleError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
    if w < 16 or h < 16 or w % 2 or h % 2:
        raise RtstyleError(f"size {text!r}: sides must be even and at least 16")
    return w, h


def untrained_style(width: int, folder: Path) -> Style:
    """A TransformerNet of `width` with seeded random weights: the same cost as a trained one."""
    torch.manual_seed(0)
    path = folder / f"untrained_w{width}.safetensors"
    meta = StyleMeta(name=path.stem, width=width, provenance="random weights for timing (rtstyle bench)")
    save_style(path, TransformerNet(width=width).state_dict(), meta, half=False)
    return Style(path.stem, path, "file")


@dataclass
class Row:
    style: str
    backend: str
    precision: str
    size: str
    device: str
    infer_scale: float = 1.0
    model_ms: dict = field(default_factory=dict)  # stage -> median ms per frame
    model_fps: float = 0.0
    e2e_fps: float | None = None
    e2e_stages_ms: dict | None = None  # pipeline stage -> median ms
    error: str | None = None


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, device: str):
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return out, (time.perf_counter() - t0) * 1000


@torch.inference_mode()
def time_model(backend: Backend, frame: np.ndarray, runs: int, warmup: int) -> dict[str, float]:
    """Median ms per frame of each stage (tensor backends) and of the whole host-to-host call.
    With reduced-size inference the stages run at the network's size, and "rescale" is the
    downscale plus the detail upsampling around it."""
    batch = pad_to_multiple(frame[None], backend.stride)
    full = torch.from_numpy(batch)
    scale = backend.scale_for(*frame.shape[:2])
    if scale < 1.0:
        batch = cv2.resize(frame, network_size(*frame.shape[:2], scale, backend.stride)[::-1],
                           interpolation=cv2.INTER_AREA)[None]
    runtime = backend.runtime
    tensor = isinstance(runtime, TensorRuntime)
    stages: dict[str, list[float]] = {}
    dev = backend.device
    pinned = torch.from_numpy(batch).pin_memory() if dev.startswith("cuda") else torch.from_numpy(batch)
    input_scale = runtime.spec.scale
    for i in range(warmup + runs):
        _, total = _timed(lambda: backend(frame), dev)
        parts = {"total": total}
        if scale < 1.0:
            _, parts["rescale"] = _timed(lambda: at_reduced_size(full, scale, backend.stride, lambda x: x), dev)
        if tensor:
            x, parts["upload"] = _timed(lambda: pinned.to(dev, non_blocking=True), dev)
            x, parts["preprocess"] = _timed(lambda: to_network(x, runtime.dtype, input_scale,
                                                                channels_last=runtime.channels_last), dev)
            inputs = runtime.device_inputs(backend.adapter.inputs(lambda: frame))
            y, parts["network"] = _timed(lambda: runtime.network(x, inputs), dev)
            y, parts["postprocess"] = _timed(lambda: from_network(y, input_scale), dev)
            _, parts["download"] = _timed(lambda: y.cpu(), dev)
        if i >= warmup:
            for k, v in parts.items():
                stages.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in stages.items()}


def make_clip(size: tuple[int, int], frames: int, folder: Path) -> Path:
    """The bundled sample clip scaled to `size`, `frames` long (looped if need be), H.264."""
    path = folder / f"clip_{size[0]}x{size[1]}_{frames}.mp4"
    if path.exists():
        return path
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        n = 0
        while n < frames:
            source = VideoFileSource(SAMPLE_CLIP)
            try:
                for f in source:
                    if n >= frames:
                        break
                    image = cv2.resize(f.image, size, interpolation=cv2.INTER_CUBIC)
                    out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
                    n += 1
            finally:
                source.close()
        out.mux(stream.encode(None))
    return path


def time_e2e(backend: Backend, clip: Path, out: Path, temporal: str, encoder: EncoderSettings) -> tuple[float, dict]:
    job = VideoConversion(clip, out, backend, encoder=encoder, temporal=TemporalSmoother(temporal))
    result = job.run()
    stages = {k: v["median_ms"] for k, v in job.pipeline.stats.snapshot()["stages"].items()}
    out.unlink(missing_ok=True)
    return result.fps, stages


def time_encoder(size: tuple[int, int], threads: int, frames: int, encoder: EncoderSettings) -> float:
    """Frames per second libx264 (or `encoder.codec`) encodes at `size` with `threads` threads."""
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8), size)
    images = [np.roll(base, 4 * i, axis=1) for i in range(8)]  # moving content, like video
    ctx = av.CodecContext.create(encoder.codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = size[0], size[1], encoder.pix_fmt
    ctx.time_base = Fraction(1, 24)
    ctx.options = encoder.codec_options() | {"threads": str(threads)}
    t0 = time.perf_counter()
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(images[i % len(images)], format="rgb24")
        frame.pts = i
        ctx.encode(frame)
    ctx.encode(None)
    return frames / (time.perf_counter() - t0)


@dataclass
class BenchConfig:
    styles: tuple[str | None, ...] = (None,)  # None: the default style
    lite: tuple[bool, ...] = (False,)  # full and/or lite variants of each style
    infer_scale: float | None = None  # None: 1, or lite's automatic choice
    width: int | None = None  # time an untrained TransformerNet of this width instead of a style
    backends: tuple[str, ...] = ("torch", "onnxruntime")
    precisions: tuple[str, ...] = ("fp32",)
    sizes: tuple[str, ...] = SIZES
    runs: int = 5
    warmup: int = 2
    e2e_frames: int = 24  # 0: model only
    temporal: str = "off"
    encode_threads: tuple[int, ...] = ()
    cuda_graphs: bool = False
    compile: str | None = None


def machine() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch": torch.__version__, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _settings(cfg: BenchConfig, folder: Path):
    """(style or name, lite) pairs to time: an untrained network, or each style in each variant."""
    if cfg.width:
        return [(untrained_style(cfg.width, folder), False)]
    return [(name, lite) for name in cfg.styles for lite in cfg.lite]


def run_bench(cfg: BenchConfig, progress=print) -> dict:
    rows: list[Row] = []
    encode: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
        folder = Path(tmp)
        sizes = [parse_size(s) for s in cfg.sizes]
        photo = sample_frames((40,))[0]
        for (style, lite), name, precision in itertools.product(_settings(cfg, folder), cfg.backends,
                                                                 cfg.precisions):
            options = {}
            if name == "torch":
                options = {"cuda_graphs": cfg.cuda_graphs} | ({"compile": cfg.compile} if cfg.compile else {})
            label = getattr(style, "name", None) or style or DEFAULT_STYLE
            try:
                backend = load_backend(style, name, precision, lite=lite, infer_scale=cfg.infer_scale, **options)
            except RtstyleError as exc:
                for w, h in sizes:
                    rows.append(Row(label, name, precision, f"{w}x{h}", "-", error=str(exc)))
                progress(f"{label} {name} {precision}: skipped: {exc}")
                continue
            shown = backend.style.name
            if lite and not shown.endswith(LITE_SUFFIX):  # a preset is its own lite variant: tell the rows apart
                shown += " (lite)"
            for w, h in sizes:
                row = Row(shown, name, precision, f"{w}x{h}", backend.device,
                          infer_scale=backend.scale_for(h, w))
                frame = cv2.resize(photo, (w, h), interpolation=cv2.INTER_CUBIC)
                row.model_ms = time_model(backend, frame, cfg.runs, cfg.warmup)
                row.model_fps = 1000.0 / row.model_ms["total"]
                if cfg.e2e_frames:
                    clip = make_clip((w, h), cfg.e2e_frames, folder)
                    row.e2e_fps, row.e2e_stages_ms = time_e2e(backend, clip, folder / "out.mp4", cfg.temporal,
                                                              EncoderSettings())
                rows.append(row)
                progress(format_row(row))
        for w, h in sizes if cfg.encode_threads else []:
            for threads in cfg.encode_threads:
                fps = time_encoder((w, h), threads, max(cfg.e2e_frames, 24), EncoderSettings())
                encode.append({"size": f"{w}x{h}", "threads": threads, "fps": fps})
                progress(f"encode {w}x{h} threads {threads}: {fps:.1f} fps")
    return {"machine": machine(), "config": asdict(cfg), "results": [asdict(r) for r in rows], "encode": encode}


def format_row(row: Row) -> str:
    if row.error:
        return f"{row.backend} {row.precision} {row.size}: {row.error}"
    e2e = f", end to end {row.e2e_fps:.1f} fps" if row.e2e_fps is not None else ""
    return (f"{row.style} {row.backend} {row.precision} {row.size} (scale {row.infer_scale:g}) on {row.device}: "
            f"model {row.model_fps:.1f} fps{e2e}")


def table(report: dict) -> str:
    """Markdown table of a report (what `rtstyle bench` prints at the end)."""
    lines = ["| style | backend | precision | size | scale | device | model fps | model ms: stages | end-to-end fps | "
             "pipeline ms: " + " / ".join(PIPELINE_STAGES) + " |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        head = f"| {r['style']} | {r['backend']} | {r['precision']} | {r['size']} | {r['infer_scale']:g} |"
        if r["error"]:
            lines.append(f"{head} - | - | {r['error']} | - | - |")
            continue
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["model_ms"].items())
        e2e = f"{r['e2e_fps']:.1f}" if r["e2e_fps"] is not None else "-"
        pipe = "-"
        if r["e2e_stages_ms"]:
            s = r["e2e_stages_ms"]
            pipe = " / ".join(f"{s[k]:.1f}" if s.get(k) is not None else "-" for k in PIPELINE_STAGES)
        lines.append(f"{head} {r['device']} | {r['model_fps']:.1f} | {stages} | {e2e} | {pipe} |")
    if report["encode"]:
        lines += ["", "| encode size | threads | fps |", "|---|---|---|"]
        lines += [f"| {e['size']} | {e['threads']} | {e['fps']:.1f} |" for e in report["encode"]]
    return "\n".join(lines)


def write_report(report: dict, path: Path) -> None:
    path.write_text(json.dumps(report, indent=1) + "\n")
