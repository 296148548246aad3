"""The warm start: synthetic answers in the exact schemas the reward and System 2 parse, a supervised pass that
lowers the answer loss and leaves the model as it found it (its head, its trainable embeddings)."""

from __future__ import annotations

import json
import random

import pytest

from omni_r1_verl.detail.boxes import parse_boxes
from omni_r1_verl.models.warm_start import avs_answer, clock, describe, fine_tune, grounding_answer, vos_answer
from omni_r1_verl.scoring import parse_answer


def test_clock_and_description():
    assert clock(0.0) == "00:00.00" and clock(3.5) == "00:03.50" and clock(61.25) == "01:01.25"
    assert describe("  The Silent  blue triangle. ") == "the silent blue triangle"
    assert describe("...") == "the object"


@pytest.mark.parametrize("seed", range(20))
def test_vos_answers_parse_into_valid_moments_on_visible_frames(seed):
    rng = random.Random(seed)
    visible = sorted(rng.sample(range(12), rng.randint(1, 6)))
    text = vos_answer("All the circles.", visible, num_frames=12, fps=2.0, rng=rng, max_moments=2)
    parsed = parse_answer(text, 12, 2.0)
    assert parsed.has_think and parsed.problems == ()
    assert 1 <= len(parsed.valid_moments) <= 2
    assert {k.frame for k in parsed.keyframes} <= set(visible)
    assert all(m.description == "all the circles" for m in parsed.moments)


def test_avs_answer_is_the_description():
    parsed = parse_answer(avs_answer("The sounding cello."), 1, 2.0)
    assert parsed.has_think and parsed.answer == "the sounding cello"


def test_grounding_answer_scales_boxes_into_the_resized_image():
    text = grounding_answer([[10, 20, 30, 40], [0, 0, 5, 5]], scale=(2.0, 0.5))
    assert parse_boxes(text).boxes == [(20.0, 10.0, 60.0, 20.0), (0.0, 0.0, 10.0, 2.0)]
    assert json.loads(grounding_answer([], (1.0, 1.0))[len("<answer>") : -len("</answer>")]) == []


def test_fine_tune_lowers_the_answer_loss_and_restores_the_model(tiny_assets):
    import torch
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from omni_r1_verl.models.qwen2_5_omni.processor import load_omni_processor
    from omni_r1_verl.models.warm_start import _append_answer

    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tiny_assets.thinker)
    processor = load_omni_processor(tiny_assets.thinker)
    prompt = processor.tokenizer(["<|im_start|>user\nfind it<|im_end|>\n<|im_start|>assistant\n"], return_tensors="pt")
    answer = processor.tokenizer(avs_answer("the cat") + "<|im_end|>", add_special_tokens=False)["input_ids"]
    example = _append_answer(prompt, answer)
    head, embeddings = model.lm_head, model.get_input_embeddings().weight
    before = embeddings.detach().clone()
    losses = fine_tune(model, [example], steps=40, lr=3e-3, seed=0)
    assert len(losses) == 40 and losses[-1] < losses[0] / 2
    assert model.lm_head is head and embeddings.requires_grad and not model.training
    assert torch.equal(embeddings, before)  # the input table is not trained
