"""Word and sentence vectors: static tables (GloVe, MiniLM's input embeddings, added files),
exact cosine search with vector arithmetic, contextual vectors from MiniLM, and 2D projections.

service.py is what other domains call; handlers.py maps the wire calls onto it. torch,
transformers and scikit-learn are imported only when a call first needs them.
"""
