"""The hf generation server in-process: verl's request interface, batching, weights, aborts, multimodal."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
import torch

from omni_r1_verl.platform.hf_server import HFServer

SAMPLING = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "logprobs": True}


@pytest.fixture
def server(cpu_tiny_config):
    return HFServer(cpu_tiny_config.actor_rollout_ref.rollout, cpu_tiny_config.actor_rollout_ref.model)


def _prompt(server, text="What is 2 plus 3?"):
    return server.engine.tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True, return_dict=False
    )


class _GenerateSpy:
    """Counts the engine's generate calls and their batch sizes."""

    def __init__(self, engine):
        self.engine, self.original, self.sizes = engine, engine.generate, []
        engine.generate = self

    def __call__(self, requests, abort=None):
        self.sizes.append(len(requests))
        return self.original(requests, abort)


async def test_generate_answers_like_the_vllm_server(server):
    info = server.ready()
    assert info["dtype"] == "torch.float32" and not info["multimodal"]
    output = await server.generate(prompt_ids=_prompt(server), sampling_params=dict(SAMPLING), request_id="a")
    # cpu_tiny: response_length 32 is the default budget.
    assert 1 <= len(output.token_ids) <= 32
    assert len(output.log_probs) == len(output.token_ids)
    assert output.stop_reason == "completed"
    assert output.extra_fields == {"global_steps": None}


async def test_concurrent_requests_share_one_generate_call(server):
    spy = _GenerateSpy(server.engine)
    prompts = [_prompt(server, f"Question {i}?") for i in range(4)]
    outputs = await asyncio.gather(
        *(
            server.generate(prompt_ids=p, sampling_params=dict(SAMPLING, max_tokens=4), request_id=str(i))
            for i, p in enumerate(prompts)
        )
    )
    assert spy.sizes == [4]
    assert all(len(o.token_ids) == 4 for o in outputs)
    # Other sampling settings cannot share a batch.
    await asyncio.gather(
        server.generate(prompt_ids=prompts[0], sampling_params=dict(SAMPLING, max_tokens=2), request_id="x"),
        server.generate(prompt_ids=prompts[1], sampling_params=dict(SAMPLING, max_tokens=2, top_p=0.5), request_id="y"),
    )
    assert spy.sizes[1:] == [1, 1]


@pytest.mark.parametrize("max_batch_wait_ms, sizes", [(120_000, [2]), (20, [1, 1])])
async def test_requests_still_computing_features_join_the_batch(server, monkeypatch, max_batch_wait_ms, sizes):
    # Request "slow" arrives with "fast" but its multimodal features take far longer than batch_wait_ms.
    def build_features(processor, prompt_ids, images=None, **_):
        time.sleep(0.5 if images == ["slow"] else 0.0)
        return {}

    monkeypatch.setattr("omni_r1_verl.platform.hf_server.build_features", build_features)
    server.engine.processor = object()  # the text-only tiny model has none; features are faked above
    server.engine_config = dataclasses.replace(
        server.engine_config, batch_wait_ms=20, max_batch_wait_ms=max_batch_wait_ms
    )
    spy = _GenerateSpy(server.engine)
    outputs = await asyncio.gather(
        *(
            server.generate(
                prompt_ids=_prompt(server, f"Question {kind}?"),
                sampling_params=dict(SAMPLING, max_tokens=3),
                request_id=kind,
                image_data=[kind],
            )
            for kind in ("fast", "slow")
        )
    )
    # Within max_batch_wait_ms the server waits for the slow one; past it the fast one goes alone.
    assert spy.sizes == sizes
    assert all(len(o.token_ids) == 3 for o in outputs)


async def test_n_sequences_need_generate_n(server):
    with pytest.raises(ValueError, match="generate_n"):
        await server.generate(prompt_ids=_prompt(server), sampling_params=dict(SAMPLING, n=2), request_id="a")
    outputs = await server.generate_n(
        prompt_ids=_prompt(server), sampling_params=dict(SAMPLING, n=3, max_tokens=5), request_id="b"
    )
    assert len(outputs) == 3 and all(len(o.token_ids) == 5 for o in outputs)


async def test_requests_the_server_cannot_serve_fail_alone(server):
    with pytest.raises(ValueError, match="no room"):
        await server.generate(prompt_ids=[1] * 2000, sampling_params=dict(SAMPLING), request_id="long")
    with pytest.raises(ValueError, match="no multimodal processor"):
        await server.generate(
            prompt_ids=_prompt(server), sampling_params=dict(SAMPLING), request_id="img", image_data=[object()]
        )
    with pytest.raises(ValueError, match="not supported"):
        await server.generate(prompt_ids=_prompt(server), sampling_params={"best_of": 2}, request_id="bad")
    output = await server.generate(prompt_ids=_prompt(server), sampling_params=dict(SAMPLING), request_id="ok")
    assert output.stop_reason == "completed"


async def test_weight_buckets_apply_then_bump_version_and_steps(server):
    model = server.engine.model
    state = {name: value.detach() * 1.01 for name, value in model.state_dict().items()}
    names = sorted(state)
    half = len(names) // 2
    first = await server.update_weights([(n, state[n]) for n in names[:half]], final=False)
    assert first == {"updated": half}
    report = await server.update_weights([(n, state[n]) for n in names[half:]], final=True, global_steps=5)
    assert report["version"] == 1 and report["missing"] == 0
    assert torch.equal(model.model.norm.weight, state["model.norm.weight"])
    output = await server.generate(prompt_ids=_prompt(server), sampling_params=dict(SAMPLING), request_id="a")
    assert output.extra_fields["global_steps"] == 5


async def test_abort_parks_new_requests_until_resume(server):
    running = asyncio.ensure_future(
        server.generate(prompt_ids=_prompt(server), sampling_params=dict(SAMPLING, max_tokens=30), request_id="run")
    )
    await asyncio.sleep(0.05)
    report = await server.abort_all_requests()
    assert report["request_ids"] == ["run"]
    aborted = await running
    assert aborted.stop_reason == "aborted" and len(aborted.token_ids) < 30

    parked = asyncio.ensure_future(
        server.generate(prompt_ids=_prompt(server), sampling_params=dict(SAMPLING, max_tokens=3), request_id="p")
    )
    await asyncio.sleep(0.2)
    assert not parked.done()
    await server.resume_generation()
    assert (await parked).stop_reason == "completed"

    await server.abort_all_requests(reject_request=True)
    rejected = await server.generate(prompt_ids=_prompt(server), sampling_params=dict(SAMPLING), request_id="r")
    assert rejected.stop_reason == "aborted" and rejected.token_ids == []
    await server.resume_generation()
    await server.wait_for_requests_to_drain()


async def test_video_audio_requests_through_the_server(tiny_assets, video_audio_request):
    from omegaconf import OmegaConf
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from omni_r1_verl.doctor import compose_config

    config = compose_config(
        ["+recipe=omni_r1", "+recipe/platform=cpu_tiny", f"actor_rollout_ref.model.path={tiny_assets.thinker}"]
    )
    OmegaConf.resolve(config)
    server = HFServer(config.actor_rollout_ref.rollout, config.actor_rollout_ref.model)
    # A loaded CI machine can take seconds for the video features; batching must not depend on that.
    server.engine_config = dataclasses.replace(server.engine_config, max_batch_wait_ms=120_000)
    assert isinstance(server.engine.model, Qwen2_5OmniThinkerForConditionalGeneration)
    # verl's processor loader rejects Qwen2.5-Omni; our model binding makes it load the real processor.
    assert type(server.engine.processor).__name__ == "Qwen2_5OmniProcessor"
    spy = _GenerateSpy(server.engine)
    requests = [video_audio_request(server.engine.processor, seed, f"Question {seed}?") for seed in (0, 1)]
    outputs = await asyncio.gather(
        *(
            server.generate(
                prompt_ids=r.prompt_ids,
                sampling_params=dict(SAMPLING, max_tokens=4),
                request_id=str(i),
                video_data=r.videos,
                audio_data=r.audios,
                mm_processor_kwargs=r.mm_processor_kwargs,
            )
            for i, r in enumerate(requests)
        )
    )
    assert spy.sizes == [2]
    assert all(len(o.token_ids) == 4 and len(o.log_probs) == 4 for o in outputs)
