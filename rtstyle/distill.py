"""`rtstyle train --teacher PRESET`: a student that paints at reduced size what the teacher paints at full size.

`--lite` runs the network at half the frame's size and upsamples with the frame's own detail
(`backends.upsample`): a quarter of the work, but the teacher's strokes come out twice as
large relative to the frame, which the style ratio measures as a different painting. The
student is the teacher's own network (started from its weights, its condition folded in)
trained through that exact path: a crop is downscaled by `scale`, stylized by the student,
brought back by `detail_upsample`, and compared with the teacher's output on the full crop:
pixel by pixel (L1), in VGG-19 features (relu2_2), and in the Gram matrices of relu1_1..relu3_1.
The Gram term matters: pixel and feature losses alone teach the student the *average* of the
teacher's strokes, which keeps the scene but looks less like the painting. The result is a
style file named NAME_lite, which `--lite` picks for NAME.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from .errors import RtstyleError, UsageError
from .models.formats import StyleMeta, save_style
from .models.registry import LITE_SUFFIX, is_preset, resolve_style
from .models.vgg import gram, gram_style_loss, vgg19_features
from .train import (after_step, load_content, loss_log, optimise, progress_bar, random_crops, resume, run_files,
                    training_device)

CONTENT = "relu2_2"
TEXTURE = ("relu1_1", "relu2_1", "relu3_1")


@dataclass
class DistillConfig:
    teacher: str  # a preset (or a blend of presets)
    content: str
    out: str
    name: str | None = None  # default: TEACHER_lite
    scale: float = 0.5  # the size the student runs at, relative to the frame (--lite's)
    size: int = 256
    batch: int = 2
    iters: int = 1500
    lr: float = 2e-4
    pixel_weight: float = 10.0
    feature_weight: float = 0.02
    gram_weight: float = 1e-3
    checkpoint_every: int = 100
    seed: int = 0
    frames_per_video: int = 40
    device: str = "auto"


def _up_with_detail(x: torch.Tensor, small: torch.Tensor, y_small: torch.Tensor) -> torch.Tensor:
    """`upsample.detail_upsample` on float NCHW 0..1 tensors, differentiable."""
    size = x.shape[-2:]
    luma = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
    lost = (x * luma).sum(1, keepdim=True) - F.interpolate((small * luma).sum(1, keepdim=True), size=size,
                                                          mode="bicubic", align_corners=False)
    return F.interpolate(y_small, size=size, mode="bicubic", align_corners=False) + lost


def distill(cfg: DistillConfig, progress: bool = True) -> Path:
    """Train (or resume) the student; writes `<out>/<name>.safetensors` and returns it."""
    if not 0.25 <= cfg.scale < 1.0:
        raise UsageError(f"--teacher-scale must be at least 0.25 and below 1, got {cfg.scale}")
    teacher_style = resolve_style(cfg.teacher)
    if not is_preset(teacher_style):
        raise RtstyleError(f"--teacher {cfg.teacher}: a preset of Magenta's networks (rtstyle styles lists them); "
                           f"{teacher_style.name!r} is a {teacher_style.meta.architecture}")
    name = cfg.name or f"{teacher_style.name.replace('+', '_')}{LITE_SUFFIX}"  # a blend's name, importable
    device = training_device(cfg.device)
    out_dir, ckpt_path, log_path = run_files(cfg.out, name)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    teacher = teacher_style.build().to(device)
    student = teacher_style.build().to(device).requires_grad_(True)
    vgg = vgg19_features("relu3_1").to(device)
    pool = load_content(Path(cfg.content), max(cfg.size * 2, 512), cfg.frames_per_video)
    opt = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=cfg.lr)
    start = resume(ckpt_path, student, opt, "model")
    if start:
        rng.seed(cfg.seed + start)
    columns = ["pixel", "features", "gram", "total"]
    log_file, log = loss_log(log_path, start, columns)
    small_size = max(16, round(cfg.size * cfg.scale / 4) * 4)
    t0 = time.monotonic()
    last: dict[str, float] = {}
    with progress_bar(progress) as bar:
        task = bar.add_task(f"distil {name}", total=cfg.iters, completed=start, losses="")
        for it in range(start, cfg.iters):
            x = random_crops(pool, cfg.batch, cfg.size, rng).to(device) / 255.0
            small = F.interpolate(x, size=(small_size, small_size), mode="area")
            with torch.no_grad():
                target = teacher(x)
                wanted = vgg(target * 255.0, (CONTENT, *TEXTURE))
            y = _up_with_detail(x, small, student(small)).clamp(0.0, 1.0)
            got = vgg(y * 255.0, (CONTENT, *TEXTURE))
            terms = {"pixel": cfg.pixel_weight * F.l1_loss(y, target),
                     "features": cfg.feature_weight * F.mse_loss(got[CONTENT], wanted[CONTENT]) / 255.0,
                     "gram": cfg.gram_weight * gram_style_loss(got, {k: gram(wanted[k]) for k in TEXTURE})}
            last = optimise(terms, opt)
            after_step(it + 1, last, columns, (log, log_file, bar, task, t0), cfg.iters, cfg.checkpoint_every,
                       ckpt_path, student, opt)
    log_file.close()
    meta = teacher_style.meta
    extra = dict(meta.extra)  # its strength and stroke size: --lite halves the size as for the teacher
    extra |= {"lite_of": teacher_style.name, "summary": f"lite student of {teacher_style.name}",
              "train_config": str(asdict(cfg)), "final_losses": str(last)}
    dest = out_dir / f"{name}.safetensors"
    save_style(dest, student.state_dict(), StyleMeta(
        name=name, architecture=meta.architecture, width=0, num_residual=0, input_range="0-1",
        provenance=f"distilled by rtstyle train --teacher {teacher_style.name}", license=meta.license, extra=extra))
    return dest
