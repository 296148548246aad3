"""What a Qwen2.5-Omni checkpoint directory holds, and the one way every command loads its thinker.

Released checkpoints come in two layouts: the Omni-R1 release is thinker-only
(``Qwen2_5OmniThinkerForConditionalGeneration``: thinker config, thinker weight names), the base Qwen2.5-Omni is a
full model (root config; ``thinker.*``, ``talker.*`` and ``token2wav.*`` weights) whose thinker is taken. Exports
mix them: a thinker config over ``thinker.``-prefixed weights, or a full config without the talker
(``enable_audio_output: false``). :func:`inspect_checkpoint` tells which one a directory holds (``omni-r1 doctor``
prints it) and refuses what is not a Qwen2.5-Omni checkpoint with a message naming the file; :func:`load_thinker`
loads the thinker of any of them through :class:`~omni_r1_verl.models.qwen2_5_omni.model.OmniThinkerForVerl`,
the class verl's FSDP workers build for training too, so training, ``omni-r1 eval`` and ``omni-r1 infer`` load
checkpoints the same way.

Inspection reads ``config.json`` and the safetensors headers only (no weights, no torch).
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from omni_r1_verl.models.qwen2_5_omni.weights import NON_THINKER_PREFIXES, THINKER_PREFIX

#: ``model_type`` of a full Qwen2.5-Omni config and of a thinker config.
FULL_MODEL_TYPE = "qwen2_5_omni"
THINKER_MODEL_TYPE = "qwen2_5_omni_thinker"

#: Largest safetensors header read (the format caps it at 100 MB; ours are far smaller).
_MAX_HEADER_BYTES = 100_000_000


class CheckpointError(ValueError):
    """A directory is not a loadable Qwen2.5-Omni checkpoint (the message names the file and what is wrong)."""


class Layout(str, Enum):
    """How a checkpoint stores the thinker."""

    #: Thinker config, thinker weight names (the Omni-R1 release; what verl exports after training).
    THINKER = "thinker"
    #: Thinker config, ``thinker.``-prefixed weight names.
    THINKER_PREFIXED = "thinker_prefixed"
    #: Full config with the talker and token2wav (the base Qwen2.5-Omni release).
    FULL = "full"
    #: Full config, thinker weights only (saved with ``enable_audio_output: false``).
    FULL_WITHOUT_TALKER = "full_without_talker"


@dataclass(frozen=True)
class CheckpointInfo:
    """What :func:`inspect_checkpoint` found.

    Attributes:
        path: The directory.
        layout: How the thinker is stored.
        architecture: ``architectures[0]`` of ``config.json`` ("" when absent).
        weight_files: Safetensors files, relative to ``path``.
        num_tensors: Tensors in them.
        has_processor: A processor / tokenizer config is present (needed by ``eval`` / ``infer``).
    """

    path: Path
    layout: Layout
    architecture: str
    weight_files: tuple[str, ...]
    num_tensors: int
    has_processor: bool

    def describe(self) -> str:
        """One line for ``omni-r1 doctor``."""
        talker = {Layout.FULL: ", talker + token2wav ignored", Layout.FULL_WITHOUT_TALKER: ", no talker"}
        return (
            f"{self.layout.value} layout ({self.architecture or 'no architectures'}, {self.num_tensors} tensors in "
            f"{len(self.weight_files)} file(s){talker.get(self.layout, '')})"
        )


def _safetensors_names(path: Path) -> list[str]:
    """Tensor names of one safetensors file, from its header."""
    try:
        with open(path, "rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            if size > _MAX_HEADER_BYTES:
                raise CheckpointError(f"{path}: safetensors header of {size} bytes; the file is corrupt")
            header = json.loads(handle.read(size))
    except (OSError, struct.error, ValueError, UnicodeDecodeError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(f"{path}: not a readable safetensors file ({type(err).__name__}: {err})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header is not a JSON object")
    return [name for name in header if name != "__metadata__"]


def _weight_names(root: Path) -> tuple[tuple[str, ...], list[str]]:
    index = root / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"{index}: not a safetensors index ({type(err).__name__}: {err})") from None
        files = tuple(sorted(set(weight_map.values())))
        for name in files:
            if not (root / name).is_file():
                raise CheckpointError(f"{index} names {name}, which is missing")
        return files, list(weight_map)
    single = root / "model.safetensors"
    if single.is_file():
        return ("model.safetensors",), _safetensors_names(single)
    legacy = sorted(p.name for p in root.glob("*.bin"))
    hint = f" (found PyTorch .bin files {legacy}: re-save with safetensors)" if legacy else ""
    raise CheckpointError(f"{root}: no model.safetensors or model.safetensors.index.json{hint}")


def inspect_checkpoint(path: str | os.PathLike) -> CheckpointInfo:
    """Tell how a checkpoint directory stores the Qwen2.5-Omni thinker.

    Args:
        path: Checkpoint directory.

    Returns:
        What it holds.

    Raises:
        CheckpointError: When ``path`` is no directory, has no ``config.json``, is another kind of model, or its
            weights are missing, unreadable or hold no thinker.
    """
    root = Path(os.path.expanduser(str(path)))
    if not root.is_dir():
        raise CheckpointError(f"{root}: not a checkpoint directory")
    config_file = root / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{config_file} is missing: not a transformers checkpoint") from None
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{config_file}: unreadable ({type(err).__name__}: {err})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    architectures = config.get("architectures") or [""] if isinstance(config, dict) else [""]
    if model_type not in (FULL_MODEL_TYPE, THINKER_MODEL_TYPE):
        raise CheckpointError(
            f"{config_file}: model_type {model_type!r} ({architectures[0] or 'no architectures'}) is not a "
            f"Qwen2.5-Omni checkpoint ({FULL_MODEL_TYPE!r} or {THINKER_MODEL_TYPE!r}); System 1 is a Qwen2.5-Omni "
            "thinker (e.g. the Omni-R1 release or Qwen/Qwen2.5-Omni-7B)"
        )
    files, names = _weight_names(root)
    prefixed = [n for n in names if n.startswith(THINKER_PREFIX)]
    others = [n for n in names if n.startswith(NON_THINKER_PREFIXES)]
    plain = len(names) - len(prefixed) - len(others)
    if not prefixed and not plain:
        raise CheckpointError(f"{root}: the weights hold no thinker tensors ({len(names)} tensors)")
    if model_type == FULL_MODEL_TYPE:
        if plain:
            raise CheckpointError(f"{root}: a full Qwen2.5-Omni config over {plain} un-prefixed (thinker-only) names")
        layout = Layout.FULL if others else Layout.FULL_WITHOUT_TALKER
    else:
        if prefixed and plain:
            raise CheckpointError(f"{root}: a thinker config over both thinker.-prefixed and plain weight names")
        layout = Layout.THINKER_PREFIXED if prefixed else Layout.THINKER
    has_processor = any((root / f).is_file() for f in ("preprocessor_config.json", "processor_config.json"))
    return CheckpointInfo(root, layout, str(architectures[0] or ""), files, len(names), has_processor)


def load_thinker(path: str | os.PathLike, *, dtype: Any = None, attn_implementation: str | None = None) -> Any:
    """Load the thinker of any Qwen2.5-Omni layout, for inference (eval mode).

    Args:
        path: Checkpoint directory.
        dtype: Parameter dtype (``None``: the checkpoint's).
        attn_implementation: transformers attention implementation (e.g. ``sdpa``).

    Returns:
        An :class:`~omni_r1_verl.models.qwen2_5_omni.model.OmniThinkerForVerl` in eval mode.

    Raises:
        CheckpointError: As :func:`inspect_checkpoint`.
    """
    from omni_r1_verl.models.qwen2_5_omni.model import OmniThinkerForVerl

    info = inspect_checkpoint(path)
    kwargs = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
    return OmniThinkerForVerl.from_pretrained(info.path, torch_dtype=dtype, **kwargs).eval()
