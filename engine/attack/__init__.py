"""Adversarial attacks on trained classifiers: the victim, goals, recipes (embedding-space,
gradient-guided and black-box), and the attack service and its calls."""
