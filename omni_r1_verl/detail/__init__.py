"""System 2: the detail pool (router + worker actors), SAM2 and grounding backends, per-rollout mask scores.

Public API (importing it does not import torch or Ray):

* :class:`DetailConfig` - the ``reward.reward_kwargs.detail`` section;
* :class:`DetailRequest` / :class:`KeyframeQuery` - what a rollout asks for;
* :class:`DetailStatus` and the result dict keys :data:`RESULT_KEYS`;
* :class:`omni_r1_verl.detail.pool.DetailPool` - find or create the pool and submit requests (imports Ray);
* :class:`omni_r1_verl.detail.engine.DetailEngine` - the same work in-process (imports torch).
"""

from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.detail.request import RESULT_KEYS, DetailRequest, DetailStatus, KeyframeQuery

__all__ = ["RESULT_KEYS", "DetailConfig", "DetailRequest", "DetailStatus", "KeyframeQuery"]
