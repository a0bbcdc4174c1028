"""What the training workers' forkserver loads once, so that each run's process starts with
torch and the trainer already imported (engine.training.worker)."""

from __future__ import annotations

import torch  # noqa: F401

import engine.models.service
import engine.training.job
import engine.training.trainer  # noqa: F401
