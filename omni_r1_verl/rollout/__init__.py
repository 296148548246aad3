"""System-1 rollout: the ``omni_r1_agent`` agent loop and its prompt templates."""
