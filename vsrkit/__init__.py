"""vsrkit: video super-resolution toolkit.

Layers (imports only point downwards): ``cli`` → ``engine`` → ``models`` → ``ops``; ``degrade``, ``data``,
``metrics`` and ``io`` are plain functions and small classes usable on their own.
"""

from vsrkit.errors import VsrkitError

__version__ = "0.1.0"
__all__ = ["VsrkitError", "__version__"]
