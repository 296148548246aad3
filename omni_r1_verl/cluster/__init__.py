"""The cluster layout of a run: which GPUs train, which host System 2, and the commands that start it.

* :mod:`omni_r1_verl.cluster.hostlist` - Slurm host lists (``gpu[01-04]``) and ``host:gpus`` node specs;
* :mod:`omni_r1_verl.cluster.layout` - the trainer / System-2 GPU split, checked against a step's batch, and the
  exact ``ray start`` and ``main_ppo`` commands (what ``--dry-run`` prints);
* :mod:`omni_r1_verl.cluster.ray_wait` - the bounded wait until every node joined the Ray cluster (imports Ray).

Importing this package imports neither Ray nor verl.
"""

from omni_r1_verl.cluster.hostlist import Node, expand_hostlist, parse_nodes
from omni_r1_verl.cluster.layout import SYSTEM2_RESOURCE, ClusterLayout, LayoutError, StepShape

__all__ = ["SYSTEM2_RESOURCE", "ClusterLayout", "LayoutError", "Node", "StepShape", "expand_hostlist", "parse_nodes"]
