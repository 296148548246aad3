"""verl on machines without accelerators: the ``cpu`` platform and the ``hf`` (transformers) rollout backend.

Registered by :mod:`omni_r1_verl.platform.register` from our verl plugin; selected by config
(``+recipe/platform=cpu_tiny``). See ``docs/cpu.md``.
"""
