"""Which Ray cluster a driver on this machine joins, and what that cluster offers.

``ray.init()`` without an address attaches to ``RAY_ADDRESS`` or, when that is unset, to the head of the latest
``ray start`` on this machine (the state of every node of the Slurm recipe); only otherwise does it start a cluster of
its own. Arguments that size a new cluster (``num_cpus``, ``num_gpus``, ``_system_config``, ...) are errors when it
attaches, so a caller that passes them has to know beforehand: :func:`attach_address`. ``RAY_ADDRESS=local`` makes
Ray start a cluster of its own beside any running one.

Ray sends its authentication token (``~/.ray/auth_token``) only to a cluster it found itself: a driver attaching
through ``RAY_ADDRESS`` to a cluster with token authentication needs ``RAY_AUTH_MODE=token`` (Ray's own rule).
"""

from __future__ import annotations

import os


def attach_address() -> str | None:
    """The running cluster ``ray.init()`` would attach to, or ``None`` when it would start one.

    Returns:
        The address (``RAY_ADDRESS``, or the latest ``ray start`` head's GCS address), or ``None``.
    """
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # Ray moved its helper: the documented variable alone
        address = os.environ.get("RAY_ADDRESS") or None
        return None if address == "local" else address
    try:
        return canonicalize_bootstrap_address(None)
    except (ValueError, ConnectionError):  # a malformed RAY_ADDRESS, or "auto" with nothing running: ray.init says so
        return os.environ.get("RAY_ADDRESS")


def cluster_resources() -> dict[str, float]:
    """Total resources of the running cluster :func:`attach_address` names (connects a driver for a moment).

    The driver connects as ``main_ppo`` does (``ray.init()`` without an address), so it meets the same
    authentication rules: Ray sends its token only to a cluster it found itself; for ``RAY_ADDRESS`` set
    ``RAY_AUTH_MODE=token`` when the cluster uses token authentication.

    Returns:
        Ray's ``cluster_resources()`` (e.g. ``{"CPU": 16.0, "GPU": 1.0, ...}``).
    """
    import ray

    ray.init(log_to_driver=False, namespace="omni_r1_probe")
    try:
        return dict(ray.cluster_resources())
    finally:
        ray.shutdown()
