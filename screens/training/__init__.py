"""The training monitor: runs, live loss and metric plots, stats, confusion matrix, controls."""

from screens.training.screen import TrainingScreen

__all__ = ["TrainingScreen"]
