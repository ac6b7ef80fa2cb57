"""Style networks: their families (`architectures`), weight formats, the style library and imports.

Torch-free at import; the PyTorch modules (`transformer_net`, `magenta`, ...) load where used.
"""

from .architectures import ARCHITECTURES, Architecture, architecture
from .formats import StyleMeta, load_style, save_style
from .importing import import_style
from .library import Style, available_styles, resolve_style

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "Style",
    "StyleMeta",
    "architecture",
    "available_styles",
    "import_style",
    "load_style",
    "resolve_style",
    "save_style",
]
