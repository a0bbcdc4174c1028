"""Screen 6: the prediction console."""

from screens.predict.screen import PredictScreen

__all__ = ["PredictScreen"]
