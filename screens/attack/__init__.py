"""Screen 7: adversarial attacks on a trained classifier."""

from screens.attack.screen import AttackScreen

__all__ = ["AttackScreen"]
