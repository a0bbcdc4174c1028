"""The workbench engine: a daemon that owns data, tokenizers, models and training.

Importing this package is cheap and torch-free; heavy modules load on use.
"""

__version__ = "0.1.0"
