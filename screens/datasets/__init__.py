"""The dataset browser: datasets, their rows, stats and splits."""

from screens.datasets.screen import DatasetsScreen

__all__ = ["DatasetsScreen"]
