"""Warm start of the tiny models: a short, seeded supervised pass so that their sampled answers can parse.

A random tiny thinker never writes ``<think>..</think><answer>{..}</answer>``, so in the CPU demo System 2 would
never run and GRPO would see only zero rewards. :func:`warm_start` fine-tunes two copies of the tiny thinker on
synthetic data of its own (other videos than the demo's, so the demo's rows stay unseen):

* the **policy** on System-1 prompts (the real prompts, clips and media of :func:`build_system1_messages`, encoded
  as in training) followed by answers in the exact schema: for videos 1-2 moments inside the clip, on frames where
  the target is visible, each with the expression as its description; for Ref-AVS the description alone;
* the **grounder** on System-2 prompts (a keyframe and a description, as :mod:`omni_r1_verl.detail.grounders`
  builds them) followed by the target's boxes in the resized image's pixels.

Sampled at T=1 the policy's answers then parse about half the time (Ref-AVS descriptions far more often than the
longer VOS moment lists), which gives the demo's GRPO groups a reward spread. Everything the model writes afterwards
is its own sampling: there is no constrained decoding and no scripted output.

Deterministic for a seed and library versions; about 2-3 minutes on 2 CPU cores, once (cached by ``make-tiny``).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omni_r1_verl.contracts.prompts import GroundingPromptStyle, grounding_messages, render_grounding_prompt
from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task
from omni_r1_verl.utils.vision import IMAGE_MAX_PIXELS, IMAGE_MIN_PIXELS, smart_resize

if TYPE_CHECKING:
    from omni_r1_verl.models.tiny import TinyAssets

logger = logging.getLogger(__name__)

#: Sub-directories of a ``make-tiny`` directory written by :func:`warm_start` (``TinyAssets.extra`` names).
POLICY_DIR = "policy_warm"
GROUNDER_DIR = "grounder_warm"
#: Synthetic datasets the warm start trains on: name -> writer keyword arguments (other videos than the demo's).
WARM_DATASETS: dict[str, dict[str, Any]] = {
    "refavs": {"videos": 4, "audio_seconds": 4.0},
    "revos": {"train_videos": 3, "valid_videos": 1, "min_frames": 8, "max_frames": 12},
}
#: The reasoning of every synthetic answer (short: the warm start teaches the schema, RL the rest).
THINK = "the referred object"
#: Offset of the synthetic data's seed from the models' seed (the demo's data uses the models' seed).
DATA_SEED_OFFSET = 1000


@dataclass(frozen=True)
class WarmStartConfig:
    """How long and how hard the warm start trains.

    Attributes:
        policy_steps: Optimiser steps of the policy (one example per step).
        grounder_steps: Optimiser steps of the grounder.
        lr: AdamW learning rate.
        epochs: Clips drawn per video row (each epoch samples another clip and other prompt example times); the
            moment schema is the harder one to learn.
        image_epochs: Passes over the single-frame rows (Ref-AVS, refCOCOg).
        max_moments: Most moments of a synthetic VOS answer.
    """

    policy_steps: int = 800
    grounder_steps: int = 120
    lr: float = 3e-3
    epochs: int = 4
    image_epochs: int = 4
    max_moments: int = 2


def clock(seconds: float) -> str:
    """``mm:ss.ff`` as the VOS prompt asks for times."""
    minutes, rest = divmod(max(seconds, 0.0), 60.0)
    return f"{int(minutes):02d}:{rest:05.2f}"


def describe(expression: str) -> str:
    """A single-image description from an expression: lower case, no final full stop."""
    return " ".join(expression.lower().split()).rstrip(".") or "the object"


def vos_answer(
    expression: str, visible: list[int], num_frames: int, fps: float, rng: random.Random, max_moments: int = 2
) -> str:
    """A System-1 VOS answer in the prompt's schema: 1..``max_moments`` one-frame moments where the target is.

    Args:
        expression: The referring expression (the description of every moment).
        visible: Clip frames (0-based) where a referred object is visible; any frame when empty.
        num_frames: Frames of the clip.
        fps: Virtual frame rate of the clip.
        rng: Source of the choices.
        max_moments: Most moments.

    Returns:
        ``<think>..</think><answer>{..}..</answer>``.
    """
    frames = sorted(set(visible)) or list(range(num_frames))
    chosen = sorted(rng.sample(frames, min(len(frames), rng.randint(1, max_moments))))
    text = describe(expression)
    moments = []
    for frame in chosen:
        # One frame per moment, ``end = start`` like the prompt's own example (a tiny model cannot learn to order
        # two independent times in a few hundred steps; RL may widen the spans).
        moment = {"start_time": clock(frame / fps), "end_time": clock(frame / fps), "description": text}
        moments.append(json.dumps(moment))
    return f"<think>{THINK}</think><answer>{', '.join(moments)}</answer>"


def avs_answer(expression: str) -> str:
    """A System-1 Ref-AVS answer: the rewritten single-image description in the answer block."""
    text = describe(expression)
    return f"<think>{THINK}</think><answer>{text}</answer>"


def grounding_answer(boxes: list[list[float]], scale: tuple[float, float]) -> str:
    """A grounding answer: each box (original pixels) in the resized image's pixels, as ``bbox_2d`` entries.

    Args:
        boxes: ``[x1, y1, x2, y2]`` per object, original pixels.
        scale: ``(sx, sy)`` from original to resized pixels.

    Returns:
        ``<answer>[{"bbox_2d": [..]}, ..]</answer>`` (an empty list for no target).
    """
    sx, sy = scale
    entries = [
        {"bbox_2d": [round(b[0] * sx), round(b[1] * sy), round(b[2] * sx), round(b[3] * sy)]} for b in boxes if b
    ]
    return f"<answer>{json.dumps(entries)}</answer>"


def _visible_clip_frames(gt: GroundTruth, frame_indices: list[int]) -> list[int]:
    if not gt.areas:
        return []
    return [k for k, f in enumerate(frame_indices) if any(obj[f] > 0 for obj in gt.areas)]


def policy_examples(rows: list[dict[str, Any]], data_cfg: Any, cfg: WarmStartConfig, rng: random.Random):
    """``(messages, answer)`` pairs: each row's System-1 conversation for several clips, with a target answer.

    Args:
        rows: Prepared rows.
        data_cfg: The ``data.omni_r1`` settings (:class:`~omni_r1_verl.data.omni_data_config.OmniDataConfig`).
        cfg: Epochs per kind of row and the moment cap.
        rng: Source of the answers' choices.

    Returns:
        The pairs, rows in order, epoch by epoch.
    """
    from omni_r1_verl.data.system1_inputs import build_system1_messages

    out = []
    for epoch in range(max(cfg.epochs, cfg.image_epochs)):
        for row in rows:
            video = str(row["extra_info"].get("task")) == Task.VOS.value
            if epoch >= (cfg.epochs if video else cfg.image_epochs):
                continue
            messages, clip = build_system1_messages(row, epoch, data_cfg, use_audio_in_video=True)
            gt = GroundTruth.from_json(row["reward_model"]["ground_truth"])
            expression = str(row["extra_info"]["expression"])
            if gt.task is Task.VOS:
                visible = _visible_clip_frames(gt, clip["frame_indices"])
                answer = vos_answer(expression, visible, len(clip["frame_indices"]), clip["fps"], rng, cfg.max_moments)
            else:
                answer = avs_answer(expression)
            out.append((messages, answer))
    return out


def grounding_examples(rows: list[dict[str, Any]], rng: random.Random, per_row: int = 2):
    """``(image, prompt, answer)`` triples: keyframes of each row with its description and the target's boxes.

    Args:
        rows: Prepared rows (VOS and Ref-AVS).
        rng: Source of the keyframe choice.
        per_row: Keyframes per VOS row.

    Returns:
        The triples; images resized as the grounders resize them (``system2.grounding``'s default pixel budget).
    """
    from PIL import Image

    from omni_r1_verl.data.gt_store import GroundTruthStore

    out = []
    stores: dict[str, GroundTruthStore] = {}
    for row in rows:
        extra = row["extra_info"]
        gt = GroundTruth.from_json(row["reward_model"]["ground_truth"])
        media = MediaRef.from_json(extra["media"])
        root = Path(extra["dataset_root"])
        if gt.task is Task.VOS:
            visible = [f for f in range(gt.num_frames) if any(obj[f] > 0 for obj in gt.areas)] or [0]
            frames = sorted(rng.sample(visible, min(per_row, len(visible))))
            if extra["gt_store"] not in stores:
                stores[extra["gt_store"]] = GroundTruthStore(extra["gt_store"])
            store = stores[extra["gt_store"]]
            all_boxes = store.boxes(gt.gt_key, frames)
            boxes = [[b.tolist() for b in all_boxes[:, i] if b[0] >= 0] for i in range(len(frames))]
        else:
            frames, boxes = [0], [[] if gt.null_target else [list(b) for b in gt.boxes]]
        for frame, frame_boxes in zip(frames, boxes):
            image = Image.open(root / media.frames[frame]).convert("RGB")
            height, width = smart_resize(
                image.height, image.width, min_pixels=IMAGE_MIN_PIXELS, max_pixels=IMAGE_MAX_PIXELS
            )
            scale = (width / image.width, height / image.height)
            image = image.resize((width, height), Image.Resampling.BICUBIC)
            prompt = render_grounding_prompt(describe(str(extra["expression"])), GroundingPromptStyle.VISION_REASONER)
            out.append((image, prompt, grounding_answer(frame_boxes, scale)))
    return out


def _append_answer(inputs: Any, answer_ids: list[int]) -> tuple[dict[str, Any], Any]:
    import torch

    prompt = inputs["input_ids"][0]
    answer = torch.tensor(answer_ids, dtype=prompt.dtype)
    ids = torch.cat([prompt, answer])[None]
    features = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), **features}, answer


def _answer_head(head: Any) -> Any:
    """A stand-in for ``lm_head`` during the pass: logits of the last ``keep`` positions only.

    The answer is the end of each sequence, so only its positions need the (152k-token) output projection; the
    full-sequence logits would cost ~20x more time and memory for nothing.
    """
    import torch

    class AnswerHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = head
            self.keep = 1

        def forward(self, hidden: torch.Tensor) -> torch.Tensor:
            return self.head(hidden[:, -self.keep :])

    return AnswerHead()


def fine_tune(model: Any, examples: list[tuple[dict[str, Any], Any]], steps: int, lr: float, seed: int) -> list[float]:
    """Supervised steps over ``(model inputs, answer ids)`` pairs, one example per step in a seeded order.

    The loss is the cross-entropy of the answer tokens (the end of ``input_ids``) given everything before them.

    Args:
        model: A transformers causal LM with multimodal inputs and an ``lm_head`` (trained in place).
        examples: Inputs (``input_ids`` ending with the answer, ``attention_mask``, media features, model kwargs)
            and the answer's token ids.
        steps: Optimiser steps.
        lr: AdamW learning rate.
        seed: Seed of the order.

    Returns:
        The loss of every step.
    """
    import torch

    order = random.Random(seed)
    # The input embeddings stay (a 152k x d table whose optimiser step would cost as much as the rest together).
    model.get_input_embeddings().weight.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0)
    head = model.lm_head
    tail = _answer_head(head)
    model.lm_head = tail
    model.train()
    losses = []
    try:
        for step in range(steps):
            if step % len(examples) == 0:
                shuffled = list(range(len(examples)))
                order.shuffle(shuffled)
            inputs, answer = examples[shuffled[step % len(examples)]]
            tail.keep = len(answer) + 1
            logits = model(**inputs).logits[0, :-1]
            loss = torch.nn.functional.cross_entropy(logits.float(), answer)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimiser.step()
            losses.append(float(loss.detach()))
    finally:
        model.lm_head = head
        model.get_input_embeddings().weight.requires_grad_(True)
        model.eval()
    return losses


def _train_copy(
    thinker_dir: str | Path,
    out_dir: str | Path,
    encode: Callable[[Any], list[tuple[dict[str, Any], Any]]],
    steps: int,
    lr: float,
    seed: int,
    what: str,
) -> Path:
    """Load a copy of the thinker, fine-tune it on the examples ``encode(processor)`` builds, save it to ``out_dir``.

    Returns:
        ``out_dir``, holding the checkpoint, the thinker's processor and ``warm_start.json`` (steps and losses).
    """
    import torch
    from transformers import AutoProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    from omni_r1_verl.models.qwen2_5_omni.processor import load_omni_processor

    thinker_dir, out_dir = Path(thinker_dir), Path(out_dir)
    torch.manual_seed(seed)
    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(thinker_dir, dtype=torch.float32)
    losses = fine_tune(model, encode(load_omni_processor(thinker_dir)), steps, lr, seed)
    logger.info("%s warm start: loss %.3f -> %.3f in %d steps", what, losses[0], losses[-1], len(losses))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    AutoProcessor.from_pretrained(thinker_dir).save_pretrained(out_dir)
    record = {"trained": what, "steps": len(losses), "first_loss": losses[0], "last_loss": losses[-1]}
    (out_dir / "warm_start.json").write_text(json.dumps(record, indent=2) + "\n")
    return out_dir


def _answer_ids(processor: Any, answer: str) -> list[int]:
    return processor.tokenizer(answer + "<|im_end|>", add_special_tokens=False)["input_ids"]


def warm_start_policy(
    thinker_dir: str | Path, out_dir: str | Path, rows: list[dict[str, Any]], cfg: WarmStartConfig, seed: int = 0
) -> Path:
    """Fine-tune a copy of the thinker on System-1 prompts and schema answers (:func:`policy_examples`).

    Args:
        thinker_dir: The tiny thinker checkpoint.
        out_dir: Where the warm-started checkpoint and its processor go.
        rows: Prepared training rows.
        cfg: Steps and learning rate.
        seed: Seed of the answers and the order.

    Returns:
        ``out_dir``.
    """
    from omni_r1_verl.data.omni_data_config import OmniDataConfig
    from omni_r1_verl.models.qwen2_5_omni.inputs import processor_inputs

    data_cfg = OmniDataConfig()

    def encode(processor: Any) -> list[tuple[dict[str, Any], Any]]:
        examples = []
        for messages, answer in policy_examples(rows, data_cfg, cfg, random.Random(seed)):
            inputs, aiv = processor_inputs(processor, messages, data_cfg.max_audio_seconds)
            model_inputs, answer_tensor = _append_answer(inputs, _answer_ids(processor, answer))
            examples.append(({**model_inputs, "use_audio_in_video": aiv}, answer_tensor))
        return examples

    return _train_copy(thinker_dir, out_dir, encode, cfg.policy_steps, cfg.lr, seed, "policy")


def warm_start_grounder(
    thinker_dir: str | Path, out_dir: str | Path, rows: list[dict[str, Any]], cfg: WarmStartConfig, seed: int = 0
) -> Path:
    """Fine-tune a copy of the thinker on grounding prompts and box answers (:func:`grounding_examples`).

    Args:
        thinker_dir: The tiny thinker checkpoint.
        out_dir: Where the warm-started grounder and its processor go.
        rows: Prepared training rows.
        cfg: Steps and learning rate.
        seed: Seed of the keyframes and the order.

    Returns:
        ``out_dir``.
    """

    def encode(processor: Any) -> list[tuple[dict[str, Any], Any]]:
        examples = []
        for image, prompt, answer in grounding_examples(rows, random.Random(seed)):
            chat = processor.apply_chat_template(grounding_messages(prompt), add_generation_prompt=True, tokenize=False)
            inputs = processor(text=[chat], images=[image], return_tensors="pt", images_kwargs={"do_resize": False})
            examples.append(_append_answer(inputs, _answer_ids(processor, answer)))
        return examples

    return _train_copy(thinker_dir, out_dir, encode, cfg.grounder_steps, cfg.lr, seed + 1, "grounder")


def warm_start(tiny_root: str | Path, thinker_dir: str | Path, seed: int = 0, cfg: WarmStartConfig | None = None):
    """Synthesize the warm-start data under ``tiny_root`` and write both warm-started models there.

    Args:
        tiny_root: The ``make-tiny`` directory.
        thinker_dir: Its random thinker.
        seed: Seed of the models; the data use ``seed + DATA_SEED_OFFSET``.
        cfg: Steps and learning rate (defaults when ``None``).

    Returns:
        ``{POLICY_DIR: path, GROUNDER_DIR: path}``.

    Raises:
        RuntimeError: If a synthetic dataset does not convert (the message names the report file).
    """
    import pandas as pd

    from omni_r1_verl.data import synthetic
    from omni_r1_verl.data.prepare import OutputPaths, PrepareConfig, prepare

    cfg = cfg or WarmStartConfig()
    root = Path(tiny_root)
    rows: list[dict[str, Any]] = []
    for name, kwargs in WARM_DATASETS.items():
        raw, out = root / "warm_start_data" / "raw" / name, root / "warm_start_data" / name
        paths = OutputPaths(out, "train")
        if not paths.parquet.is_file():
            if not raw.is_dir():
                synthetic.SYNTHESIZERS[name](raw, seed=seed + DATA_SEED_OFFSET, **kwargs)
            config = PrepareConfig(dataset=name, root=raw, split="train", out=out, workers=1, progress=False)
            result = prepare(config)
            if result.exit_code != 0 or not paths.parquet.is_file():
                raise RuntimeError(f"synthetic {name} for the warm start did not convert; see {paths.report_txt}")
        rows += pd.read_parquet(paths.parquet).to_dict("records")
    return {
        POLICY_DIR: warm_start_policy(thinker_dir, root / POLICY_DIR, rows, cfg, seed),
        GROUNDER_DIR: warm_start_grounder(thinker_dir, root / GROUNDER_DIR, rows, cfg, seed),
    }


def add_warm_start(assets: TinyAssets) -> TinyAssets:
    """Add the warm-started policy and grounder to a ``make-tiny`` directory unless they are there.

    Args:
        assets: A ``make-tiny`` directory's assets.

    Returns:
        The assets with ``extra["policy_warm"]`` and ``extra["grounder_warm"]``; the manifest is rewritten when
        they were built.
    """
    from omni_r1_verl.models.tiny import write_manifest

    if all(name in assets.extra and Path(assets.extra[name]).is_dir() for name in (POLICY_DIR, GROUNDER_DIR)):
        return assets
    logger.info("warm-starting the tiny policy and grounder (a short supervised pass on synthetic answers)")
    assets.extra.update(warm_start(assets.root, assets.thinker, seed=assets.seed))
    write_manifest(assets)
    return assets
