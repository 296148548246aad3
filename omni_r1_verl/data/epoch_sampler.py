"""A resumable sampler that tells the dataset which epoch each index belongs to.

Clips are drawn per (epoch, sample), but a map-style dataset only ever sees an index, and verl 0.9.1 neither sets an
epoch on its dataset nor lets a recipe choose the sampler. :class:`EpochSampler` (installed for datasets that ask for
it, see :mod:`omni_r1_verl.models.qwen2_5_omni.verl_binding`) yields ``epoch * len(dataset) + index``; the dataset
decodes the pair with :func:`split_epoch_index`. The state it checkpoints (epoch, position) travels in verl's
``data.pt`` through torchdata's ``StatefulDataLoader``, so a resumed run continues with the same epochs and the same
order. Each epoch's order is a permutation seeded by (seed, epoch) only, so no generator state needs saving.

Pure module (numpy only).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from omni_r1_verl.data.sampling import stable_seed


def encode_epoch_index(epoch: int, index: int, size: int) -> int:
    """Pack (epoch, index) into the single int a dataset receives.

    Args:
        epoch: Epoch number (0-based).
        index: Row index in ``[0, size)``.
        size: Dataset length.

    Returns:
        ``epoch * size + index``.
    """
    if not 0 <= index < size:
        raise IndexError(f"index {index} outside a dataset of {size} rows")
    return epoch * size + index


def split_epoch_index(value: int, size: int) -> tuple[int, int]:
    """Inverse of :func:`encode_epoch_index`; plain indices (< size) are epoch 0.

    Args:
        value: What the dataloader passed to ``__getitem__``.
        size: Dataset length.

    Returns:
        ``(epoch, index)``.
    """
    if value < 0 or size <= 0:
        raise IndexError(f"index {value} is invalid for a dataset of {size} rows")
    return divmod(int(value), size)


class _EpochIterator(Iterator[int]):
    """One epoch of an :class:`EpochSampler`; checkpointable (torchdata's ``Stateful`` protocol)."""

    def __init__(self, sampler: EpochSampler, epoch: int) -> None:
        self.sampler = sampler
        self.epoch = epoch
        self.yielded = 0
        self.order = sampler.order(epoch)

    def __iter__(self) -> _EpochIterator:
        return self

    def __next__(self) -> int:
        if self.yielded >= len(self.order):
            raise StopIteration
        index = int(self.order[self.yielded])
        self.yielded += 1
        return encode_epoch_index(self.epoch, index, self.sampler.size)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "yielded": self.yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.yielded = int(state["yielded"])
        self.order = self.sampler.order(self.epoch)
        self.sampler.next_epoch = self.epoch + 1


class EpochSampler:
    """Yields ``epoch * size + index`` for every row once per epoch, epochs counted from 0.

    Args:
        size: Dataset length.
        shuffle: Permute rows each epoch (seeded by ``(seed, epoch)``); else ascending order.
        seed: Seed of the permutations.
    """

    def __init__(self, size: int, shuffle: bool = True, seed: int = 0) -> None:
        if size <= 0:
            raise ValueError(f"cannot sample from an empty dataset (size={size})")
        self.size = size
        self.shuffle = shuffle
        self.seed = seed
        self.next_epoch = 0

    def order(self, epoch: int) -> np.ndarray:
        """Row order of ``epoch``.

        Args:
            epoch: Epoch number.

        Returns:
            A permutation of ``range(size)``.
        """
        if not self.shuffle:
            return np.arange(self.size)
        return np.random.default_rng(stable_seed("epoch-sampler", self.seed, epoch)).permutation(self.size)

    def __iter__(self) -> _EpochIterator:
        iterator = _EpochIterator(self, self.next_epoch)
        self.next_epoch += 1
        return iterator

    def __len__(self) -> int:
        return self.size
