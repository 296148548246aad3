"""verl adapters of the scoring library: the ``omni_r1`` reward manager and ``compute_score``."""
