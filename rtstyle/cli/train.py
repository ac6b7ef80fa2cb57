"""`rtstyle train` (and `--teacher`) and `rtstyle train-adain`, each ending with a quality report."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..configs import DEVICES, LITE_BLOCKS, LITE_WIDTH, TRAIN_PRECISIONS, AdaINTrainConfig, DistillConfig, TrainConfig
from ..errors import RtstyleError, UsageError
from .args import count, positive


def cmd_train(args: argparse.Namespace) -> int:
    from ..train import network_shape, train

    if args.teacher:
        return _distill(args)
    if not args.style_image or not args.name:
        raise RtstyleError("rtstyle train needs --style-image and --name (or --teacher PRESET to tune a lite "
                           "student)")
    _check_eval_photos(args)
    d = TrainConfig
    if args.temporal_weight < 0:
        raise UsageError(f"--temporal-weight must be 0 (off) or more, got {args.temporal_weight}")
    lite, width, residual = network_shape(args.init, args.lite)  # --init's network when fine-tuning
    content_weight = d.content_weight if args.content_weight is None else args.content_weight
    cfg = TrainConfig(style_image=args.style_image, content=args.content, out=args.out, name=args.name,
                      width=args.channels or width, num_residual=args.residual or residual, lite=lite,
                      size=args.size, style_size=args.style_size, batch=args.batch or d.batch,
                      iters=args.iters or d.iters, lr=args.lr or d.lr, content_weight=content_weight,
                      style_weight=args.style_weight, tv_weight=args.tv_weight,
                      temporal_weight=args.temporal_weight, init=args.init, device=args.device)
    dest = train(cfg, progress=not args.quiet)
    print(f"wrote {dest} (use it with --style {dest}, or: rtstyle import {dest} --name {args.name})")
    _report(dest, [Path(args.style_image)], args.eval_photos)
    return 0


def _distill(args: argparse.Namespace) -> int:
    from ..distill import distill, lite_report
    from ..models.library import builtin_dir

    if args.init or args.lite:
        raise RtstyleError("--teacher tunes the teacher's own condition: drop --init/--lite")
    _check_eval_photos(args)
    d = DistillConfig
    cfg = DistillConfig(teacher=args.teacher, content=args.content, out=args.out, name=args.name,
                        scale=args.teacher_scale, size=args.size, batch=args.batch or d.batch,
                        iters=args.iters or d.iters, lr=args.lr or d.lr, device=args.device,
                        content_weight=d.content_weight if args.content_weight is None else args.content_weight)
    dest = distill(cfg, progress=not args.quiet)
    shadow = " --force" if (builtin_dir() / dest.name).exists() else ""  # in place of the built-in student
    print(f"wrote {dest} (rtstyle import {dest} --name {dest.stem}{shadow} makes --lite --style {args.teacher} "
          f"use it)")
    if args.style_image:  # the teacher's painting: both measures, teacher against student
        from ..images import read_image
        from ..train import eval_photos

        photos = eval_photos(args.eval_photos, cfg.frame)
        for label, result in lite_report(dest, args.teacher, read_image(args.style_image), photos).items():
            print(f"quality, {label}: {result}")
    return 0


REPORT_PAINTINGS = 3  # train-adain judges its decoder on the first three style images


def _check_eval_photos(args: argparse.Namespace) -> None:
    """Before training, not after it: a mistyped folder must not cost the run."""
    if args.eval_photos and not Path(args.eval_photos).is_dir():
        raise RtstyleError(f"--eval-photos {args.eval_photos}: no such folder")


def _report(weights: Path, paintings: list[Path], photos: str | None) -> None:
    from ..images import read_image
    from ..train import report

    result = report(weights, [read_image(p) for p in paintings], photos)
    print(f"quality: {result} -> {weights.with_suffix('.quality.json')}")


def cmd_train_adain(args: argparse.Namespace) -> int:
    from ..train_adain import decoder_width, train_adain

    if not args.styles and not args.alpha0:
        raise RtstyleError("train-adain needs --styles (a folder of style images)")
    _check_eval_photos(args)
    for folder in (args.content, args.styles):
        if folder and not Path(folder).is_dir():
            raise RtstyleError(f"{folder}: no such folder")
    width = decoder_width(args.init, args.decoder_width)  # --init's decoder when fine-tuning
    cfg = AdaINTrainConfig(content=args.content, styles=args.styles, out=args.out, name=args.name,
                           decoder_width=width, size=args.size, batch=args.batch, iters=args.iters,
                           lr=args.lr, style_weight=args.style_weight, identity=args.identity,
                           pixel_weight=args.pixel_weight, colour_jitter=args.colour_jitter,
                           precision=args.precision, device=args.device, init=args.init, alpha0=args.alpha0)
    dest = train_adain(cfg, progress=not args.quiet)
    print(f"wrote {dest} (use it with --style {dest} --style-image IMAGE)")
    if args.styles:  # an --alpha0 decoder paints nothing: there is no style to judge
        from ..images import IMAGE_SUFFIXES

        paintings = sorted(p for p in Path(args.styles).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        _report(dest, paintings[:REPORT_PAINTINGS], args.eval_photos)
    return 0


def _add_run_args(p: argparse.ArgumentParser, device: str) -> None:
    """What both trainers take about the run itself: where it runs, what it is judged on, how loud."""
    p.add_argument("--device", choices=DEVICES, default=device,
                   help="auto: the GPU where PyTorch sees one, else the CPU")
    p.add_argument("--eval-photos", metavar="DIR",
                   help="photos the closing report judges on (structure and style ratio; default: frames of the "
                        "bundled clip)")
    p.add_argument("-q", "--quiet", action="store_true")


def add_parsers(sub) -> None:
    d = TrainConfig
    p = sub.add_parser("train", help="train a feed-forward network for one style image, or (--teacher) distil a "
                                     "preset into a lite student")
    p.add_argument("--style-image", help="the painting (--teacher: the teacher's, for the quality report)")
    p.add_argument("--content", required=True, help="folder of images and/or videos")
    p.add_argument("--name", help="the new style's name (--teacher: default TEACHER_lite)")
    p.add_argument("--teacher", metavar="PRESET",
                   help="tune this preset's condition so that, run at --teacher-scale of the frame's size, it "
                        "paints what the preset paints at its own stroke size (for --lite)")
    p.add_argument("--teacher-scale", type=float, default=0.5, help="--teacher: the student's size (default 0.5)")
    p.add_argument("--out", default="trained", help="folder for weights, checkpoint and loss log")
    p.add_argument("--lite", action="store_true", help="train the CPU architecture (depthwise-separable blocks)")
    p.add_argument("--channels", type=count, help=f"channels of the first layer (default {d.width}, lite {LITE_WIDTH})")
    p.add_argument("--residual", type=count, help=f"residual blocks (default {d.num_residual}, lite {LITE_BLOCKS})")
    p.add_argument("--size", type=count, default=d.size, help="training crop size")
    p.add_argument("--style-size", type=count, default=d.style_size)
    p.add_argument("--batch", type=count, help=f"images per network call, here per training step (default {d.batch}; "
                                               f"--teacher: {DistillConfig.batch})")
    p.add_argument("--iters", type=count, help=f"default {d.iters} (--teacher: {DistillConfig.iters})")
    p.add_argument("--lr", type=positive, help=f"default {d.lr} (--teacher: {DistillConfig.lr})")
    p.add_argument("--content-weight", type=float,
                   help=f"default {d.content_weight:g} (--teacher: {DistillConfig.content_weight:g}, against the "
                        f"teacher's features)")
    p.add_argument("--style-weight", type=float, default=d.style_weight)
    p.add_argument("--tv-weight", type=float, default=d.tv_weight)
    p.add_argument("--temporal-weight", type=float, default=d.temporal_weight,
                   help="weight of the stability loss (outputs of shifted, noisy views must agree); "
                        "0 = off. Makes video flicker less (see docs/benchmarks/history.md)")
    p.add_argument("--init", metavar="STYLE", help="start from this style's weights (name or file), "
                                                   "e.g. to fine-tune it with --temporal-weight")
    _add_run_args(p, d.device)
    p.set_defaults(func=cmd_train)

    a = AdaINTrainConfig
    p = sub.add_parser("train-adain", help="train an AdaIN decoder (any style image at run time)")
    p.add_argument("--content", required=True, help="folder of content images and/or videos")
    p.add_argument("--styles", help="folder of style images (not needed with --alpha0)")
    p.add_argument("--name", default=a.name)
    p.add_argument("--out", default="trained", help="folder for weights, checkpoint and loss log")
    p.add_argument("--decoder-width", type=count,
                   help=f"channels of the decoder's first conv (pytorch-AdaIN: 256; default {a.decoder_width}, "
                        "or --init's)")
    p.add_argument("--init", metavar="STYLE", help="start from this AdaIN style's decoder (name or file), e.g. "
                                                   "to train the built-in `adain` further")
    p.add_argument("--alpha0", action="store_true",
                   help="train --init's reconstruction decoder, which alpha 0 uses (alpha blends the two "
                        "decoders' weights), on pixels alone; its style decoder, and so alpha 1, stay as they are")
    p.add_argument("--size", type=count, default=a.size, help="training crop size")
    p.add_argument("--batch", type=count, default=a.batch, help="images per network call, here per training step")
    p.add_argument("--iters", type=count, default=a.iters)
    p.add_argument("--lr", type=positive, default=a.lr)
    p.add_argument("--style-weight", type=float, default=a.style_weight)
    p.add_argument("--identity", type=float, default=a.identity,
                   help="fraction of pairs where the content is its own style (teaches reconstruction)")
    p.add_argument("--pixel-weight", type=float, default=a.pixel_weight, help="pixel loss on those pairs")
    p.add_argument("--colour-jitter", type=float, default=a.colour_jitter,
                   help="fraction of content crops with a random tone (gamma, gain, offset), most of them also "
                        "with random hue, saturation and contrast (default %(default)s)")
    p.add_argument("--precision", choices=TRAIN_PRECISIONS, default=a.precision,
                   help="auto: bfloat16 autocast where the device runs it natively (a GPU from Ampere on, a "
                        "CPU with AVX512-BF16/AMX), else fp32")
    _add_run_args(p, a.device)
    p.set_defaults(func=cmd_train_adain)
