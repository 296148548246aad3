"""How workers read ground-truth masks: a one-method protocol, an ``.npz`` implementation, and a loader.

Workers score masks where they are produced, so masks never travel through verl's batch. The real store
(``omni_r1_verl.data.gt_store.GroundTruthStore``) and :class:`NpzGroundTruth` (synthetic clips, tests, the CPU demo)
both satisfy :class:`GroundTruthSource`; ``system2.gt_store`` names the class to use.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from omni_r1_verl.contracts.rows import resolve_under_root


@runtime_checkable
class GroundTruthSource(Protocol):
    """Anything that returns a sample's masks by key."""

    def masks(self, gt_key: str, frame_indices: Sequence[int] | None = None) -> np.ndarray:
        """Masks of every referred object.

        Args:
            gt_key: The sample's key.
            frame_indices: Frames of the full video to return (``None``: all).

        Returns:
            Boolean array ``(n_obj, F, H, W)`` (``n_obj`` may be 0 for a null expression).
        """
        ...


class GroundTruthError(RuntimeError):
    """Ground truth is missing or malformed (the message names the key and file)."""


class NpzGroundTruth:
    """Masks stored as ``<root>/<gt_key>.npz`` with one boolean array ``masks`` of shape ``(n_obj, F, H, W)``.

    Files are read with ``allow_pickle=False``; keys are confined to the root.

    Args:
        root: Directory holding the files.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, gt_key: str) -> Path:
        """File of a key (inside the root)."""
        return resolve_under_root(self.root, f"{gt_key}.npz")

    def masks(self, gt_key: str, frame_indices: Sequence[int] | None = None) -> np.ndarray:
        """See :meth:`GroundTruthSource.masks`."""
        path = self.path(gt_key)
        try:
            with np.load(path, allow_pickle=False) as data:
                masks = data["masks"]
        except (OSError, KeyError, ValueError) as err:
            raise GroundTruthError(f"cannot read ground truth {gt_key!r} from {path}: {err}") from err
        if masks.ndim != 4:
            raise GroundTruthError(f"{path}: masks must be (n_obj, F, H, W), got shape {masks.shape}")
        if frame_indices is not None:
            idx = np.asarray(frame_indices, dtype=np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= masks.shape[1]):
                raise GroundTruthError(f"{path}: frame index outside [0, {masks.shape[1]}) in {idx.tolist()}")
            masks = masks[:, idx]
        return masks.astype(bool, copy=False)

    @staticmethod
    def write(root: str | Path, gt_key: str, masks: np.ndarray) -> Path:
        """Store masks for a key (used by synthetic-data builders and tests).

        Args:
            root: Store directory.
            gt_key: Key (may contain ``/`` for sub-directories).
            masks: Boolean ``(n_obj, F, H, W)``.

        Returns:
            The written file.
        """
        path = Path(root) / f"{gt_key}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, masks=np.asarray(masks, dtype=bool))
        return path


def import_object(spec: str) -> type:
    """Import ``package.module:Name``.

    Args:
        spec: The import spec.

    Returns:
        The object.

    Raises:
        ImportError: With the spec in the message when it cannot be imported.
    """
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ImportError(f"cannot import ground-truth store {spec!r}: {err}") from err


def open_ground_truth(spec: str, root: str | Path) -> GroundTruthSource:
    """Instantiate the configured store class on a root.

    Args:
        spec: ``package.module:Class`` (``system2.gt_store``).
        root: Store root.

    Returns:
        The store.
    """
    store = import_object(spec)(root)
    if not isinstance(store, GroundTruthSource):
        raise TypeError(f"{spec} has no masks(gt_key, frame_indices) method")
    return store
