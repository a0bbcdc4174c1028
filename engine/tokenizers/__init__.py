"""Tokenizers: training, loading, encoding, dataset statistics and the classic text encodings
(one-hot, bag-of-words, TF-IDF). Every tokenizer is a Hugging Face `tokenizers.Tokenizer`.

service.py is what other domains call; handlers.py maps the wire calls onto it.
"""
