"""System 2: the detail pool (router + worker actors), SAM2 and grounding backends, per-rollout mask scores.

Public API (importing it does not import torch or Ray):

* :class:`DetailConfig` - the ``system2`` config section;
* :class:`omni_r1_verl.detail.pool.DetailPool` - find or create the pool and submit requests (imports Ray);
* :class:`omni_r1_verl.detail.engine.DetailEngine` - the same work in-process (imports torch).

Requests and results are the contract types of :mod:`omni_r1_verl.contracts.system2`.
"""

from omni_r1_verl.detail.config import DetailConfig

__all__ = ["DetailConfig"]
