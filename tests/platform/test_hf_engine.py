"""The generation engine: log-probs equal to a direct forward, sampling and stop semantics, weight updates."""

from __future__ import annotations

import threading

import pytest
import torch

from omni_r1_verl.platform.hf_engine import GenerationRequest
from omni_r1_verl.platform.multimodal import build_features, forward_kwargs
from omni_r1_verl.platform.sampling import SamplingParams

#: fp32 on CPU: the generator and a fresh forward of the same sequence agree to rounding.
TOLERANCE = 1e-5


def _prompt(engine, text):
    return engine.tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True, return_dict=False
    )


def _direct_logits(engine, prompt_ids, token_ids, **model_kwargs):
    """Logits that predict each generated token, from one forward over prompt + generated ids."""
    ids = torch.tensor([prompt_ids + token_ids])
    with torch.no_grad():
        logits = engine.model(input_ids=ids, attention_mask=torch.ones_like(ids), **model_kwargs).logits[0].float()
    return logits[len(prompt_ids) - 1 : -1]


def _direct_logprobs(engine, prompt_ids, token_ids, **model_kwargs):
    logits = _direct_logits(engine, prompt_ids, token_ids, **model_kwargs)
    return torch.log_softmax(logits, -1).gather(1, torch.tensor(token_ids)[:, None]).squeeze(1)


def _greedy(engine, prompt_ids, max_tokens=8, **sampling):
    request = GenerationRequest(prompt_ids, SamplingParams(temperature=0, logprobs=True, **sampling), max_tokens)
    return engine.generate([request])[0]


def test_logprobs_match_a_direct_forward_in_a_left_padded_batch(text_engine):
    prompts = [_prompt(text_engine, "What is 2 plus 3?"), text_engine.tokenizer("hi")["input_ids"]]
    sampling = SamplingParams(logprobs=True)
    results = text_engine.generate([GenerationRequest(p, sampling, 12) for p in prompts])
    for prompt, result in zip(prompts, results):
        assert len(result.token_ids) == 12 and result.finish_reason == "length"
        expected = _direct_logprobs(text_engine, prompt, result.token_ids)
        assert torch.allclose(torch.tensor(result.log_probs), expected, atol=TOLERANCE)


def test_processed_logprobs_follow_the_sampling_transforms(text_engine):
    prompt = _prompt(text_engine, "Count to three.")
    sampling = SamplingParams(temperature=2.0, top_k=5, seed=11, logprobs=True)
    processed = text_engine.generate([GenerationRequest(prompt, sampling, 10)])[0]
    logits = _direct_logits(text_engine, prompt, processed.token_ids) / 2.0
    top5 = logits.topk(5, dim=-1)
    tokens = torch.tensor(processed.token_ids)
    assert all(t in row for t, row in zip(tokens.tolist(), top5.indices.tolist()))
    renormalised = torch.log_softmax(top5.values, -1)
    expected = renormalised.gather(1, (top5.indices == tokens[:, None]).float().argmax(-1, keepdim=True)).squeeze(1)
    assert torch.allclose(torch.tensor(processed.log_probs), expected, atol=TOLERANCE)

    text_engine.logprobs_mode = "raw_logprobs"
    raw = text_engine.generate([GenerationRequest(prompt, sampling, 10)])[0]
    assert raw.token_ids == processed.token_ids  # same seed, same sampling
    expected_raw = _direct_logprobs(text_engine, prompt, raw.token_ids)
    assert torch.allclose(torch.tensor(raw.log_probs), expected_raw, atol=TOLERANCE)


def test_greedy_takes_the_argmax(text_engine):
    prompt = _prompt(text_engine, "Name a colour.")
    result = _greedy(text_engine, prompt)
    assert result.token_ids == _direct_logits(text_engine, prompt, result.token_ids).argmax(-1).tolist()
    assert _greedy(text_engine, prompt).token_ids == result.token_ids


def test_a_seed_makes_sampling_reproducible(text_engine):
    prompt = _prompt(text_engine, "Tell me a story.")

    def sample(seed):
        return text_engine.generate([GenerationRequest(prompt, SamplingParams(seed=seed), 12)])[0].token_ids

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_stop_token_ids_and_max_tokens(text_engine):
    prompt = _prompt(text_engine, "Say something.")
    tokens = _greedy(text_engine, prompt, max_tokens=10).token_ids
    stop_id = tokens[4]
    first = tokens.index(stop_id)
    stopped = _greedy(text_engine, prompt, max_tokens=10, stop_token_ids=(stop_id,))
    assert stopped.token_ids == tokens[: first + 1] and stopped.finish_reason == "stop"
    assert len(stopped.log_probs) == len(stopped.token_ids)
    short = _greedy(text_engine, prompt, max_tokens=3)
    assert short.token_ids == tokens[:3] and short.finish_reason == "length"


def test_stop_strings_cut_at_the_completing_token(text_engine):
    prompt = _prompt(text_engine, "Write a word.")
    tokens = _greedy(text_engine, prompt, max_tokens=10).token_ids
    text = text_engine.decode(tokens[:6])
    stop = text[-3:] if len(text) >= 3 else text
    expected_end = next(k for k in range(1, len(tokens) + 1) if stop in text_engine.decode(tokens[:k]))
    result = _greedy(text_engine, prompt, max_tokens=10, stop=(stop,))
    assert result.token_ids == tokens[:expected_end] and result.finish_reason == "stop"


def test_end_of_sequence_and_ignore_eos(text_engine):
    prompt = _prompt(text_engine, "Stop early.")
    tokens = _greedy(text_engine, prompt, max_tokens=8).token_ids
    text_engine.eos_token_ids = frozenset({tokens[2]})
    first = tokens.index(tokens[2])
    assert _greedy(text_engine, prompt, max_tokens=8).token_ids == tokens[: first + 1]
    assert _greedy(text_engine, prompt, max_tokens=8, ignore_eos=True).token_ids == tokens


def test_abort_stops_the_batch_at_the_next_token(text_engine):
    abort = threading.Event()
    abort.set()
    request = GenerationRequest(_prompt(text_engine, "Go on."), SamplingParams(), 16)
    [result] = text_engine.generate([request], abort=abort)
    assert result.finish_reason == "abort" and len(result.token_ids) < 16


def test_a_batch_shares_its_sampling_settings(text_engine):
    prompt = _prompt(text_engine, "x")
    requests = [GenerationRequest(prompt, SamplingParams(), 4), GenerationRequest(prompt, SamplingParams(top_p=0.5), 4)]
    with pytest.raises(ValueError, match="share their sampling settings"):
        text_engine.generate(requests)


def test_weight_update_changes_outputs_and_matches_the_new_model(text_engine):
    prompt = _prompt(text_engine, "What is 2 plus 3?")
    before = _greedy(text_engine, prompt)
    generator = torch.Generator().manual_seed(0)
    embed = text_engine.model.get_input_embeddings().weight
    new = {"model.embed_tokens.weight": embed.detach() + torch.randn(embed.shape, generator=generator) * 0.05}
    keys = text_engine.load_weights(new.items())
    assert keys == ["model.embed_tokens.weight"]
    # Tied embeddings: the output head is the same parameter, so it counts as updated.
    assert "lm_head.weight" not in text_engine.finish_weight_update()
    after = _greedy(text_engine, prompt)
    assert after.token_ids != before.token_ids or after.log_probs != pytest.approx(before.log_probs, abs=1e-3)
    expected = _direct_logprobs(text_engine, prompt, after.token_ids)
    assert torch.allclose(torch.tensor(after.log_probs), expected, atol=TOLERANCE)


def test_partial_update_reports_untouched_parameters(text_engine):
    norm = text_engine.model.model.norm.weight
    text_engine.load_weights([("model.norm.weight", norm.detach() * 2)])
    missing = text_engine.finish_weight_update()
    assert "model.norm.weight" not in missing
    assert "model.layers.0.self_attn.q_proj.weight" in missing


def test_bad_weight_updates_fail_loudly_and_apply_nothing(text_engine):
    norm = text_engine.model.model.norm.weight
    original = norm.detach().clone()
    with pytest.raises(ValueError, match="unknown weight 'model.nope'"):
        text_engine.load_weights([("model.norm.weight", norm.detach() * 3), ("model.nope", torch.zeros(1))])
    with pytest.raises(ValueError, match="shape"):
        text_engine.load_weights([("model.norm.weight", torch.zeros(3))])
    assert torch.equal(norm, original)


def test_root_omni_names_resolve_to_the_thinker(omni_engine):
    assert omni_engine.resolve_name("thinker.model.norm.weight") == "model.norm.weight"
    assert omni_engine.resolve_name("thinker.visual.blocks.0.norm1.weight") == "visual.blocks.0.norm1.weight"
    assert omni_engine.resolve_name("talker.model.norm.weight") is None


def test_video_audio_requests_match_a_direct_forward_batched_and_alone(omni_engine, video_audio_request):
    processor = omni_engine.processor
    head = omni_engine.model.get_output_embeddings()
    positions = []
    head.register_forward_hook(lambda module, args, logits: positions.append(logits.shape[-2]))
    built = [
        video_audio_request(processor, seed=0, question="Where is the dog?"),
        video_audio_request(processor, seed=1, question="Who speaks, and what is said in the video?"),
    ]
    sampling = SamplingParams(logprobs=True)
    requests = []
    for request in built:
        features = build_features(
            processor,
            request.prompt_ids,
            videos=request.videos,
            audios=request.audios,
            mm_processor_kwargs=request.mm_processor_kwargs,
        )
        requests.append(GenerationRequest(request.prompt_ids, sampling, 6, features, request.mm_processor_kwargs))
    batched = omni_engine.generate(requests)
    # The thinker's forward has no logits_to_keep: the engine keeps its head off the prompt positions itself.
    assert positions and set(positions) == {1}
    head._forward_hooks.clear()
    assert "forward" not in vars(head)  # restored after generating
    for request, mm, result in zip(requests, built, batched):
        kwargs = forward_kwargs(omni_engine.model, {**mm.processor_outputs, **mm.mm_processor_kwargs})
        expected = _direct_logprobs(omni_engine, request.prompt_ids, result.token_ids, **kwargs)
        assert torch.allclose(torch.tensor(result.log_probs), expected, atol=TOLERANCE)
        greedy = SamplingParams(temperature=0, logprobs=True)
        [alone] = omni_engine.generate(
            [GenerationRequest(request.prompt_ids, greedy, 6, request.features, request.model_kwargs)]
        )
        assert torch.allclose(
            torch.tensor(alone.log_probs),
            _direct_logprobs(omni_engine, request.prompt_ids, alone.token_ids, **kwargs),
            atol=TOLERANCE,
        )
