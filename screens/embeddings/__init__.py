"""Embedding neighbours: nearest words, vector arithmetic, words in context, 2D projections."""

from screens.embeddings.screen import EmbeddingsScreen

__all__ = ["EmbeddingsScreen"]
