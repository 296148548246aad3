"""Grounding backends: the model sees exactly the smart_resize image whose coordinates are mapped back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from omni_r1_verl.contracts.prompts import render_grounding_prompt
from omni_r1_verl.detail.config import GroundingConfig
from omni_r1_verl.detail.grounders import get_grounder_cls, resize_for_grounding
from omni_r1_verl.detail.grounders.transformers_vlm import TransformersGrounder
from omni_r1_verl.detail.grounders.vllm_vlm import VllmGrounder
from omni_r1_verl.utils.vision import smart_resize

CPU = torch.device("cpu")


def _image(height: int, width: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("hw", "limits"), [((480, 640), (3136, 50176)), ((720, 1280), (50176, 1254400)), ((84, 56), (3136, 9408))]
)
def test_keyframes_are_resized_with_smart_resize(hw, limits):
    resized = resize_for_grounding(_image(*hw), *limits)
    assert (resized.height, resized.width) == smart_resize(*hw, min_pixels=limits[0], max_pixels=limits[1])
    assert resized.height % 28 == 0 and resized.width % 28 == 0


def test_an_image_already_at_its_smart_resize_size_is_untouched():
    image = _image(84, 112)
    assert resize_for_grounding(image, 3136, 50176) is image


def test_transformers_grounder_runs_the_tiny_omni_thinker_end_to_end(tiny_assets):
    cfg = GroundingConfig(
        backend="transformers",
        model_path=str(tiny_assets.thinker),
        min_pixels=3136,
        max_pixels=28 * 28 * 12,
        max_new_tokens=6,
        batch_size=2,
    )
    grounder = get_grounder_cls("auto", CPU)(cfg, CPU, torch.float32)
    assert isinstance(grounder, TransformersGrounder)
    images = [_image(100, 150, seed=i) for i in range(3)]
    outputs = grounder.ground(images, ["the cat", "the dog", "the cat"])
    assert len(outputs) == 3
    expected_hw = smart_resize(100, 150, min_pixels=3136, max_pixels=28 * 28 * 12)
    for out in outputs:
        assert out.resized_hw == expected_hw
        assert isinstance(out.text, str) and len(out.text) > 0  # random weights: text, usually without boxes
    # Greedy decoding is deterministic: the same (image, description) gives the same answer in a batch.
    repeat = grounder.ground([images[0]], ["the cat"])
    assert repeat[0].text == outputs[0].text


class _FakeVllm:
    """Stands in for ``vllm.LLM`` at the narrowest boundary: records the inputs, answers from a script."""

    def __init__(self, answer: str):
        self.answer = answer
        self.inputs: list[dict] = []


class _ScriptedVllmGrounder(VllmGrounder):
    answer = '```json\n[{"bbox_2d": [28, 56, 112, 84], "label": "dog"}]\n```'

    def _create_engine(self):
        return _FakeVllm(self.answer)

    def _run(self, inputs):
        self.llm.inputs.extend(inputs)
        return [self.llm.answer for _ in inputs]


@pytest.mark.parametrize("style", ["vision_reasoner", "plain", "seg_zero", "qwen_vl"])
def test_vllm_grounder_pins_the_resize_and_maps_boxes_back(tiny_assets, style):
    cfg = GroundingConfig(
        backend="vllm",
        model_path=str(tiny_assets.thinker),
        prompt_style=style,
        min_pixels=3136,
        max_pixels=28 * 28 * 30,
    )
    grounder = _ScriptedVllmGrounder(cfg, CPU, torch.bfloat16)
    original = _image(300, 500)
    (out,) = grounder.ground([original], ["The brown dog."])
    (sent,) = grounder.llm.inputs
    resized_hw = smart_resize(300, 500, min_pixels=3136, max_pixels=28 * 28 * 30)
    image = sent["multi_modal_data"]["image"]
    assert (image.height, image.width) == resized_hw == out.resized_hw
    # vLLM's own resize gets the same limits, under which the already-resized image is a fixed point.
    assert sent["mm_processor_kwargs"] == {"min_pixels": 3136, "max_pixels": 28 * 28 * 30}
    assert smart_resize(*resized_hw, min_pixels=3136, max_pixels=28 * 28 * 30) == resized_hw
    assert render_grounding_prompt("The brown dog.", style) in sent["prompt"]
    assert "<|IMAGE|>" in sent["prompt"]  # the chat template placed the image
    sy, sx = 300 / resized_hw[0], 500 / resized_hw[1]
    assert out.boxes == [(28 * sx, 56 * sy, 112 * sx, 84 * sy)]


def test_vllm_grounder_refuses_a_cpu_device(tiny_assets):
    cfg = GroundingConfig(backend="vllm", model_path=str(tiny_assets.thinker))
    with pytest.raises(RuntimeError, match="needs a GPU"):
        VllmGrounder(cfg, CPU, torch.float32)


def test_unknown_grounder_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: .*transformers.*vllm"):
        get_grounder_cls("sa2va", CPU)
