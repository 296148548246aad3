"""verl adapters of the scoring library: the ``omni_r1`` reward manager, ``compute_score``, the group gate."""
