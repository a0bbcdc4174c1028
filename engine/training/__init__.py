"""Training runs: configs, the run book (state, metrics, evaluations in the store), the job that
trains, the model builder's plan, and a generic trainer that knows nothing of the model.

service.py is what other domains call; handlers.py maps the wire calls onto it. Import the
submodules directly: this package stays empty so that importing engine.training.config does
not import torch.
"""
