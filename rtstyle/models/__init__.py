"""Style networks, their weight formats and the style registry."""

from .formats import StyleMeta, load_style, save_style
from .registry import ARCHITECTURES, Style, available_styles, import_style, resolve_style
from .transformer_net import TransformerNet

__all__ = [
    "ARCHITECTURES",
    "Style",
    "StyleMeta",
    "TransformerNet",
    "available_styles",
    "import_style",
    "load_style",
    "resolve_style",
    "save_style",
]
