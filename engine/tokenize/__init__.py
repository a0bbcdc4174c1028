"""Tokenizers: training, loading, encoding, dataset statistics, padding arithmetic and
classic text encodings (one-hot, bag-of-words, TF-IDF).

Every tokenizer is a Hugging Face `tokenizers.Tokenizer`; TokenizerService in registry.py is
the engine's entry point.
"""
