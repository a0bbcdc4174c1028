"""The model builder: compose a training run from the keyboard, see what it would build."""

from screens.builder.screen import BuilderScreen

__all__ = ["BuilderScreen"]
