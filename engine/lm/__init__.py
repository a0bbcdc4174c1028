"""Language models: generating text (a streamed job) and scoring it, with a trained LM run or
the optional SmolLM2."""
