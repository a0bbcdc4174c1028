"""Model architectures for text: one module per family, one registry (engine.models.registry).

Every model takes forward(input_ids [B, T], attention_mask [B, T]) and returns logits: [B, C]
for classifiers (task "classify"), [B, T, V] for language models (task "lm").
"""
