"""The vLLM engine, faked at its narrowest boundary (the ``vllm.LLM`` object): the prompts and multimodal data we
hand it. vLLM itself is not installable here; on a GPU machine ``evaluation.system1.engine=vllm`` runs it."""

from __future__ import annotations

import sys
import types

import numpy as np
import pyarrow.parquet as pq

from omni_r1_verl.data.omni_data_config import OmniDataConfig
from omni_r1_verl.data.system1_inputs import load_item_media
from omni_r1_verl.evaluation.config import System1Config
from omni_r1_verl.evaluation.samples import EvalSample


class FakeLLM:
    instances: list = []

    def __init__(self, **kwargs):
        self.kwargs, self.calls = kwargs, []
        FakeLLM.instances.append(self)

    def generate(self, prompts, sampling, use_tqdm=False):
        self.calls.append((prompts, sampling))
        out = types.SimpleNamespace(text="<think>x</think><answer>[]</answer>")
        return [types.SimpleNamespace(outputs=[out]) for _ in prompts]


def test_vllm_receives_template_text_and_decoded_media(tiny_assets, eval_data, monkeypatch):
    fake = types.ModuleType("vllm")
    fake.LLM = FakeLLM
    fake.SamplingParams = lambda **kw: types.SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    from omni_r1_verl.evaluation.system1 import build_system1

    data = OmniDataConfig()
    engine = build_system1(str(tiny_assets.thinker), System1Config(engine="vllm", max_new_tokens=64), data)
    llm = FakeLLM.instances[-1]
    assert llm.kwargs["model"] == str(tiny_assets.thinker) and llm.kwargs["max_model_len"] == 32768
    vos = EvalSample.from_row(pq.read_table(eval_data["revos"]).to_pylist()[0], 0)
    avs = EvalSample.from_row(pq.read_table(eval_data["refavs"]).to_pylist()[0], 0)
    conversations = [vos.messages(data, 24, False)[0], avs.messages(data, 24, False)[0]]
    answers = engine.generate(conversations)
    assert answers == ["<think>x</think><answer>[]</answer>"] * 2
    ((prompts, sampling),) = llm.calls
    assert sampling.temperature == 0.0 and sampling.max_tokens == 64
    tokens = engine.processor.omni_token_ids
    video_token = engine.processor.tokenizer.convert_ids_to_tokens(tokens.video)
    assert prompts[0]["prompt"].count(video_token) == 1  # one placeholder per item: vLLM expands it
    video_item = next(i for i in conversations[0][-1]["content"] if i["type"] == "video")
    expected = load_item_media(video_item, data.max_audio_seconds)["video"]
    assert np.array_equal(prompts[0]["multi_modal_data"]["video"][0], expected)
    assert prompts[0]["mm_processor_kwargs"] == {"use_audio_in_video": False, "fps": data.fps}
    wave, rate = prompts[1]["multi_modal_data"]["audio"][0]
    assert rate == 16000 and wave.dtype == np.float32 and "image" in prompts[1]["multi_modal_data"]
