"""`rtstyle train --teacher PRESET`: the preset's condition, tuned to paint at `--lite`'s size what the preset paints.

`--lite` runs the network at half the frame's size and upsamples with the frame's own detail
(`backends.upsample`): a quarter of the work, but the strokes come out larger relative to the
frame than at the preset's own stroke size, which the style ratio measures as a different
painting. The network stays Magenta's; only the preset's condition (its 100-d style vector or
26 painting weights) is trained, starting from the teacher's, so the student is a preset too:
a few hundred bytes, the same speed, the shared ONNX export.

Each step takes crops of frames at `frame` px on the long side; the teacher paints them the way
`convert` does at its stroke size, the student the way `--lite` does (downscaled by `scale`,
upsampled with detail, both mixed at the strength), and the loss is the Gram distance of the two
in VGG-19 relu1_1..relu4_1 at the scale the style ratio is measured at, plus their relu2_2 feature
distance, which keeps the teacher's scene. Matching the teacher's output, not the painting, keeps
the preset's look: tuned straight against the painting the condition found a grey cross-hatch
that scores well and looks like neither. Measured in docs/benchmarks/history.md ("`--lite`"):
starry's worst ratio at `--lite` falls from 0.94 to 0.69 in 60 steps, the scene kept.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .backends.upsample import network_size
from .configs import LITE_FRAME, DistillConfig
from .errors import RtstyleError, UsageError
from .metrics import EVAL_LONG_SIDE, Judgement, judge
from .models.formats import StyleMeta, save_style
from .models.library import LITE_SUFFIX, Style, is_preset, resolve_style
from .models.vgg import CONTENT_LAYER, STYLE_LAYERS, gram, vgg19_features
from .train import (after_step, load_content, loss_log, optimise, progress_bar, random_crops, resume, run_files,
                    training_device)


class _Condition(nn.Module):
    """The trained part: the condition alone, so checkpoints and the saved style hold only it."""

    def __init__(self, start: Tensor):
        super().__init__()
        self.condition = nn.Parameter(start.detach().clone())


def up_with_detail(x: Tensor, small: Tensor, y_small: Tensor) -> Tensor:
    """`upsample.detail_upsample` on float NCHW 0..1 tensors, differentiable."""
    size = x.shape[-2:]
    luma = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
    lost = (x * luma).sum(1, keepdim=True) - F.interpolate((small * luma).sum(1, keepdim=True), size=size,
                                                          mode="bicubic", align_corners=False)
    return F.interpolate(y_small, size=size, mode="bicubic", align_corners=False) + lost


def paint(net: nn.Module, condition: Tensor, x: Tensor, scale: float, strength: float) -> Tensor:
    """What the pipeline shows for crops `x` (NCHW 0..1) with the network at `scale` of their size."""
    if scale < 1.0:
        small = F.interpolate(x, size=network_size(*x.shape[-2:], scale, net.stride), mode="area")
        y = up_with_detail(x, small, net(small, condition))
    else:
        y = net(x, condition)
    return torch.lerp(x, y.clamp(0.0, 1.0), strength)


def distill(cfg: DistillConfig, progress: bool = True) -> Path:
    """Train (or resume) the student; writes `<out>/<name>.safetensors` and returns it."""
    if not 0.25 <= cfg.scale < 1.0:
        raise UsageError(f"--teacher-scale must be at least 0.25 and below 1, got {cfg.scale}")
    teacher_style = resolve_style(cfg.teacher)
    if not is_preset(teacher_style):
        raise RtstyleError(f"--teacher {cfg.teacher}: a preset of Magenta's networks (rtstyle styles lists them); "
                           f"{teacher_style.name!r} is a {teacher_style.meta.architecture}")
    strength = float(teacher_style.meta.extra.get("strength", 1.0))
    student_strength = strength if cfg.strength is None else cfg.strength
    if not 0.0 < student_strength <= 1.0:
        raise UsageError(f"the student's strength must be above 0 and at most 1, got {student_strength}")
    name = cfg.name or f"{teacher_style.name.replace('+', '_')}{LITE_SUFFIX}"  # a blend's name, importable
    device = training_device(cfg.device)
    out_dir, ckpt_path, log_path = run_files(cfg.out, name)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    conditioned = teacher_style.build().to(device)
    net, start_condition = conditioned.net, conditioned.condition
    student = _Condition(start_condition)
    teacher_scale = min(1.0, (teacher_style.meta.stroke_long_side or cfg.frame) / cfg.frame)
    measured_at = EVAL_LONG_SIDE / cfg.frame  # the style ratio's scale, in frame pixels
    vgg = vgg19_features("relu4_1").to(device)
    pool = load_content(Path(cfg.content), cfg.frame, cfg.frames_per_video)
    opt = torch.optim.Adam(student.parameters(), lr=cfg.lr)
    start = resume(ckpt_path, student, opt, "model")
    if start:
        rng.seed(cfg.seed + start)

    def features(y: Tensor) -> dict[str, Tensor]:
        y = F.interpolate(y, scale_factor=measured_at, mode="bilinear", antialias=True, align_corners=False)
        return vgg(y * 255.0, (*STYLE_LAYERS, CONTENT_LAYER))

    columns = ["gram", "content", "total"]
    log_file, log = loss_log(log_path, start, columns)
    t0 = time.monotonic()
    last: dict[str, float] = {}
    with progress_bar(progress) as bar:
        task = bar.add_task(f"distil {name}", total=cfg.iters, completed=start, losses="")
        for it in range(start, cfg.iters):
            x = random_crops(pool, cfg.batch, cfg.size, rng).to(device) / 255.0
            with torch.no_grad():
                wanted = features(paint(net, start_condition, x, teacher_scale, strength))
            got = features(paint(net, student.condition, x, cfg.scale, student_strength))
            terms = {"gram": sum(F.mse_loss(gram(got[k]), gram(wanted[k])) for k in STYLE_LAYERS),
                     "content": cfg.content_weight * F.mse_loss(got[CONTENT_LAYER], wanted[CONTENT_LAYER])}
            last = optimise(terms, opt)
            after_step(it + 1, last, columns, (log, log_file, bar, task, t0), cfg.iters, cfg.checkpoint_every,
                       ckpt_path, student, opt)
    log_file.close()
    meta = teacher_style.meta
    extra = dict(meta.extra)  # its strength and stroke size: --lite runs it at `scale` as it would the teacher
    extra |= {"lite_of": teacher_style.name, "strength": f"{student_strength:g}",
              "summary": f"{meta.extra.get('summary', teacher_style.name)}, for --lite",
              "train_config": json.dumps(asdict(cfg)), "final_losses": json.dumps(last)}
    dest = out_dir / f"{name}.safetensors"
    save_style(dest, student.state_dict(), StyleMeta(
        name=name, architecture=meta.architecture, width=0, num_residual=0, input_range="0-1",
        provenance=f"distilled by rtstyle train --teacher {teacher_style.name}", license=meta.license, extra=extra),
        half=False)
    return dest


def lite_report(student: Path, teacher: str, painting: np.ndarray, photos: list[np.ndarray],
                frame: int = LITE_FRAME) -> dict[str, Judgement]:
    """Both measures for the teacher as `convert` runs it and for `--lite` with the teacher's
    default lite path and with the student, on photos at `frame` px: the student earns its place
    only if it beats the default lite path. Written beside the student as NAME.quality.json."""
    from .backends import load_backend

    teacher_style = resolve_style(teacher)
    runs = {"teacher": load_backend(teacher_style), "lite (no student)": load_backend(teacher_style, lite=True),
            "lite (student)": load_backend(Style(student.stem, student, "file"), lite=True)}
    result = {label: judge(lambda photo, i, b=b: b(photo), photos, [painting], long_side=frame)
              for label, b in runs.items()}
    student.with_suffix(".quality.json").write_text(json.dumps({k: v.as_dict() for k, v in result.items()}, indent=2))
    return result
