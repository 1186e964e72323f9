"""broadcaster: multi-channel warning broadcast and household confirmation service."""

__version__ = "0.1.0"
