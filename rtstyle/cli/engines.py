"""`rtstyle export` and `rtstyle build-engine`: one tool per step, ONNX then TensorRT."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import RtstyleError
from ..output_files import check_output
from .args import count


def cmd_export(args: argparse.Namespace) -> int:
    from ..models.export import ExportSpec, default_export_path, export_style
    from ..models.library import resolve_style

    style = resolve_style(args.style)
    if style.format == "onnx":
        raise RtstyleError(f"style {style.name!r} is already an ONNX model ({style.path})")
    spec = ExportSpec(height=args.height, width=args.width, dynamic=args.dynamic, batch=args.batch,
                      fp16=args.fp16, opset=args.opset)
    out = Path(args.output) if args.output else default_export_path(style, spec)
    if args.output:
        check_output(out, args.overwrite)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        check_output(out, True)
    info = export_style(style, out, spec)["export"]
    diffs = ", ".join(f"{k}: {v:.4f}" for k, v in info["max_abs_diff_vs_pytorch_fp32"].items())
    print(f"wrote {out} (opset {spec.opset}, {spec.precision}, input {info['input']['shape']}) and "
          f"{out.with_suffix('.json').name}")
    print(f"onnx.checker: ok; ONNX Runtime vs PyTorch fp32, max |diff| on 0..255: {diffs}")
    return 0


def cmd_build_engine(args: argparse.Namespace) -> int:
    from ..compile.cache import EngineCache
    from ..compile.profiles import onnx_input, parse_shape, profile_for
    from ..compile.tensorrt_build import BuildPlan, engine_for
    from ..models.formats import onnx_geometry

    src = Path(args.onnx)
    _, dims = onnx_input(src)
    shapes = {k: parse_shape(getattr(args, k), k) if getattr(args, k) else None for k in ("min", "opt", "max")}
    profile = profile_for(dims, shapes["min"], shapes["opt"], shapes["max"], stride=onnx_geometry(src)[0])
    precision = "fp16" if args.fp16 else "fp32"
    if args.via == "torch-tensorrt":
        return _build_torch_tensorrt(args, profile, precision)
    plan = BuildPlan.from_onnx(src, profile, precision)
    cache = EngineCache(Path(args.cache) if args.cache else None)
    path, built = engine_for(plan, cache, rebuild=args.rebuild)
    print(f"{'built' if built else 'cached'}: {path} ({precision}, profile {profile})")
    if args.out:
        import shutil

        shutil.copyfile(path, check_output(args.out, args.overwrite))
        print(f"wrote {args.out}")
    return 0


def _build_torch_tensorrt(args: argparse.Namespace, profile, precision: str) -> int:
    """The alternative path: the PyTorch model the ONNX was exported from, compiled by torch-tensorrt."""
    import json

    from ..compile.torch_trt import compile_style
    from ..models.export import sidecar_path
    from ..models.library import resolve_style

    side = sidecar_path(Path(args.onnx))
    if not side.is_file():
        raise RtstyleError(f"{side}: missing; --via torch-tensorrt needs an ONNX file made by rtstyle export")
    style = resolve_style(json.loads(side.read_text())["export"]["source"])
    if not style.architecture.single_input:
        raise RtstyleError(f"--via torch-tensorrt compiles one-input networks; build {style.meta.architecture} "
                           f"exports from ONNX (the default)")
    compile_style(style.build(), profile, precision)
    print(f"compiled {style.name} with torch-tensorrt ({precision}, profile {profile}); engines cached for "
          f"--backend torch --compile tensorrt")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("export", help="export a style network to ONNX (checked against PyTorch)")
    p.add_argument("--style", "-s", help="built-in or imported style name, or a weights file (default: starry)")
    p.add_argument("-o", "--output", help="output .onnx (default: engines/STYLE/STYLE_SHAPE_bN_PRECISION_opN.onnx)")
    p.add_argument("--dynamic", action="store_true", help="free batch, height and width (multiples of 4)")
    p.add_argument("--height", type=count, default=360, help="input height (static), or the example (default: 360)")
    p.add_argument("--width", type=count, default=640, help="input width (static), or the example (default: 640)")
    p.add_argument("--batch", type=count, default=1, help="images per network call the static export takes (default: 1)")
    p.add_argument("--fp16", action="store_true", help="fp16 weights and input/output")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset, 17 or newer (default: 18)")
    p.add_argument("-y", "--overwrite", action="store_true", help="overwrite the output file if it exists")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("build-engine", help="build (or find in the cache) a TensorRT engine for an ONNX file")
    p.add_argument("onnx", help="ONNX style model (e.g. from rtstyle export)")
    p.add_argument("--fp16", action="store_true", help="fp16 engine (instance norm kept in fp32)")
    for bound, example in (("min", "1x3x256x256"), ("opt", "1x3x720x1280"), ("max", "1x3x1088x1920")):
        p.add_argument(f"--{bound}", metavar="SHAPE", help=f"{bound} input shape, NxCxHxW or HxW "
                                                           f"(default for dynamic models: {example})")
    p.add_argument("--via", choices=["tensorrt", "torch-tensorrt"], default="tensorrt",
                   help="TensorRT's ONNX parser, or torch-tensorrt on the source PyTorch model (default: tensorrt)")
    p.add_argument("--cache", help="engine cache folder (default: ~/.cache/rtstyle/engines)")
    p.add_argument("--rebuild", action="store_true", help="build even if the cache has this engine")
    p.add_argument("--out", help="also copy the engine here (e.g. engines/STYLE/STYLE.engine)")
    p.add_argument("-y", "--overwrite", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_build_engine)
