"""Training: a generic trainer that knows nothing of the model it trains.

config (TrainConfig), data (TextExamples, batches, prefetch), losses, metrics (evaluation),
checkpoint (atomic safetensors + JSON), optim (optimizer and schedule), control (callbacks,
pause/stop/lr requests) and trainer (Trainer.fit). Import the submodules directly: this package
stays empty so that importing engine.train.config does not import torch.
"""
