"""The tokenizer inspector: what tokenizers make of typed text, and what that costs on data."""

from screens.tokenizers.screen import TokenizerScreen

__all__ = ["TokenizerScreen"]
