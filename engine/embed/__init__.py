"""Word and sentence vectors: static tables (GloVe, MiniLM's input embeddings, added files),
exact cosine search with vector arithmetic, contextual vectors from MiniLM, and 2D projections.

The service (engine.embed.service) is the entry point; torch, transformers and scikit-learn are
imported only when a call first needs them, so the engine starts without them.
"""
