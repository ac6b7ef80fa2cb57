"""Make the bundled sample clip: slow pans and zooms over scikit-image's public-domain /
CC0 photos, cross-faded, with a synthesized chord as AAC audio.

Usage: python tools/make_sample_clip.py [OUT.mp4]   (default rtstyle/data/sample.mp4)
Needs scikit-image (pip install -e .[train]). Deterministic for a given PyAV/x264.
"""

from __future__ import annotations

import sys
from fractions import Fraction

import av
import cv2
import numpy as np

W, H, FPS = 640, 360, 24
SECONDS_PER_SHOT, FADE = 2.0, 0.5
SHOTS = ["astronaut", "coffee", "chelsea", "rocket"]  # CC0 / public domain, see data/README.md
SAMPLE_RATE = 44100


def shot(image: np.ndarray, t: float, index: int) -> np.ndarray:
    """A 16:9 window moving and zooming across `image` at progress t in [0, 1]."""
    h, w = image.shape[:2]
    zoom = 1.0 + 0.25 * (t if index % 2 == 0 else 1 - t)
    ch = min(h, w * H / W) / zoom
    cw = ch * W / H
    cx = (w - cw) * (0.2 + 0.6 * t if index % 2 == 0 else 0.8 - 0.6 * t) + cw / 2
    cy = (h - ch) * 0.4 + ch / 2
    m = np.array([[W / cw, 0, W / 2 - cx * W / cw], [0, H / ch, H / 2 - cy * H / ch]], dtype=np.float32)
    return cv2.warpAffine(image, m, (W, H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def frames() -> list[np.ndarray]:
    from skimage import data

    images = [getattr(data, name)()[:, :, :3] for name in SHOTS]
    n_shot, n_fade = int(SECONDS_PER_SHOT * FPS), int(FADE * FPS)
    out = []
    for i, img in enumerate(images):
        clip = [shot(img, k / (n_shot - 1), i) for k in range(n_shot)]
        if out:  # cross-fade the tail of the previous shot into this one
            for k in range(n_fade):
                a = (k + 1) / (n_fade + 1)
                out[-n_fade + k] = cv2.addWeighted(out[-n_fade + k], 1 - a, clip[k], a, 0)
            clip = clip[n_fade:]
        out.extend(clip)
    return out


def chord(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    notes = [220.0, 277.18, 329.63, 440.0]
    wave = sum(np.sin(2 * np.pi * f * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.25 * t + i)) for i, f in enumerate(notes))
    envelope = np.minimum(1, np.minimum(t, seconds - t) / 0.3)
    mono = (0.15 * wave * envelope).astype(np.float32)
    return np.stack([mono, mono])  # planar stereo


def main(out: str = "rtstyle/data/sample.mp4") -> None:
    video = frames()
    seconds = len(video) / FPS
    with av.open(out, "w") as c:
        vs = c.add_stream("libx264", rate=FPS, options={"crf": "24", "preset": "slow"})
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        aus = c.add_stream("aac", rate=SAMPLE_RATE)
        aus.layout = "stereo"
        for i, img in enumerate(video):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, FPS)
            c.mux(vs.encode(f))
        c.mux(vs.encode(None))
        samples = chord(seconds)
        for start in range(0, samples.shape[1], 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + 1024]), format="fltp",
                                            layout="stereo")
            af.sample_rate, af.pts, af.time_base = SAMPLE_RATE, start, Fraction(1, SAMPLE_RATE)
            c.mux(aus.encode(af))
        c.mux(aus.encode(None))
    print(f"wrote {out}: {len(video)} frames {W}x{H} @ {FPS} fps, {seconds:.2f} s")


if __name__ == "__main__":
    main(*sys.argv[1:])
