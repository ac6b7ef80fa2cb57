"""Settings of rtstyle's long jobs (training, distillation, Gatys) and the constants their options
name, as plain dataclasses without torch: the command line shows their defaults in `--help`
without importing torch, and the jobs read them from here."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RtstyleError, UsageError

DEVICES = ("auto", "cpu", "cuda")
TRAIN_PRECISIONS = ("auto", "bf16", "fp32")  # train-adain: bf16 autocast where native (inference: see capabilities)
OPTIMIZERS = ("lbfgs", "adam")  # gatys
# 8.6 ms at 320x180 on two CPU cores (width 12: 14.9 ms, 16: 19.0 ms; TransformerNet width 16: 28 ms)
LITE_WIDTH, LITE_BLOCKS = 8, 3
LITE_FRAME = 640  # the frame size --lite is made for (640x360 at 24 fps on two cores)


@dataclass
class TrainConfig:
    style_image: str
    content: str
    out: str
    name: str
    width: int = 16
    num_residual: int = 5
    lite: bool = False  # the CPU architecture (models.lite) instead of TransformerNet
    size: int = 256
    style_size: int = 512
    batch: int = 1
    iters: int = 1200
    lr: float = 1e-3
    content_weight: float = 15.0  # keeps the scene: structure >= 0.65 after a default run (issue #20's history)
    style_weight: float = 5.0
    tv_weight: float = 100.0
    temporal_weight: float = 0.0  # > 0: train for stable output under camera motion and noise
    init: str | None = None  # a style (name or weights file) to start from instead of random weights
    checkpoint_every: int = 50
    seed: int = 0
    frames_per_video: int = 40
    device: str = "auto"  # "cpu", "cuda", or "auto": the GPU where PyTorch sees one


@dataclass
class AdaINTrainConfig:
    content: str
    styles: str | None  # not needed with `alpha0`
    out: str
    name: str = "adain"
    decoder_width: int = 128
    size: int = 128
    batch: int = 4
    iters: int = 2000
    lr: float = 5e-4
    lr_decay: float = 5e-4  # lr / (1 + decay * iteration), as pytorch-AdaIN
    style_weight: float = 10.0
    identity: float = 0.25  # fraction of pairs that reconstruct the content (alpha = 0)
    pixel_weight: float = 50.0  # pixel MSE (0..255 scale) on identity pairs: comparable to the content loss
    checkpoint_every: int = 50
    seed: int = 0
    frames_per_video: int = 40
    colour_jitter: float = 0.75  # fraction of content crops with random tone (and most, colours): `jitter_photo`
    precision: str = "auto"  # "bf16", "fp32", or "auto": bf16 where the hardware runs it natively
    device: str = "auto"  # "cpu", "cuda", or "auto": the GPU where PyTorch sees one
    init: str | None = None  # an AdaIN style (name or file) whose decoder to start from instead of random weights
    alpha0: bool = False  # train the reconstruction decoder alpha 0 uses (needs `init`): identity pairs only


@dataclass
class DistillConfig:
    teacher: str  # a preset (or a blend of presets)
    content: str
    out: str
    name: str | None = None  # default: TEACHER_lite
    scale: float = 0.5  # the size the student runs at, relative to the frame (--lite's)
    frame: int = LITE_FRAME  # long side of the frames the student is made for
    size: int = 256  # crop size, in frame pixels
    batch: int = 4
    iters: int = 60
    lr: float = 0.02
    content_weight: float = 1.0  # relu2_2 features of the teacher's output: keeps its scene where Gram alone drifts
    strength: float | None = None  # the student's mix with the frame (default: the teacher's)
    checkpoint_every: int = 20
    seed: int = 0
    frames_per_video: int = 40
    device: str = "auto"


@dataclass
class GatysConfig:
    iterations: int = 150
    size: int = 256  # long side of the optimised image (about 2 s an iteration on 2 CPU cores)
    optimizer: str = "lbfgs"
    # weights of the normalised terms (each divided by its target's mean square, so they do not
    # depend on VGG's activation scale or the image size)
    content_weight: float = 1.0
    style_weight: float = 1e3
    tv_weight: float = 1e-3
    lr: float = 2.0  # Adam's step on the 0..255 scale (L-BFGS uses its own line search)

    def check(self) -> None:
        if self.iterations < 1 or self.size < 32:
            raise UsageError("--iterations must be at least 1 and --size at least 32")
        if self.optimizer not in OPTIMIZERS:
            raise RtstyleError(f"--optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
