"""vLLM-compatible sampling parameters and the stop rule shared by generation and trimming."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omni_r1_verl.platform.sampling import SamplingParams, StopRule


def test_parses_what_verls_agent_loop_sends():
    sampling = SamplingParams.from_request(
        {"temperature": 0.7, "top_p": 0.95, "top_k": -1, "repetition_penalty": 1.0, "logprobs": True}
    )
    assert (sampling.temperature, sampling.top_p, sampling.top_k, sampling.logprobs) == (0.7, 0.95, -1, True)
    assert not sampling.greedy
    assert SamplingParams.from_request({"temperature": 0, "logprobs": False}).greedy


def test_aliases_and_vllm_forms():
    sampling = SamplingParams.from_request({"max_new_tokens": 7, "stop": "</answer>", "stop_token_ids": [3, 4]})
    assert sampling.max_tokens == 7
    assert sampling.stop == ("</answer>",)
    assert sampling.stop_token_ids == (3, 4)
    # vLLM's integer logprobs (number of alternatives) still asks for the sampled token's log-probability.
    assert SamplingParams.from_request({"logprobs": 0}).logprobs
    assert not SamplingParams.from_request({"logprobs": None}).logprobs


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_k": -2}, "top_k"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 0}, "n must be"),
        ({"stop": [""]}, "non-empty"),
    ],
)
def test_rejects_what_cannot_be_honoured(params, message):
    with pytest.raises(ValueError, match=message):
        SamplingParams.from_request(params)


def test_batch_key_separates_distributions_but_not_lengths():
    base = SamplingParams(temperature=1.0, max_tokens=4)
    assert base.batch_key() == SamplingParams(temperature=1.0, max_tokens=9).batch_key()
    assert base.batch_key() == SamplingParams(top_k=0).batch_key()  # -1 and 0 both disable top-k
    assert base.batch_key() != SamplingParams(temperature=0.5).batch_key()
    assert base.batch_key() != SamplingParams(stop=("x",)).batch_key()
    # Greedy requests batch together whatever their (ignored) temperature.
    assert SamplingParams(temperature=0).batch_key() == SamplingParams(temperature=1e-7).batch_key()


def _decode(ids):
    return "".join(chr(ord("a") + i % 26) for i in ids)


def test_stop_rule_tokens_and_eos():
    rule = StopRule.build(SamplingParams(stop_token_ids=(7,)), eos_token_ids=[9])
    assert rule.stop_length([1, 2, 7, 9]) == 3
    assert rule.stop_length([1, 9, 7]) == 2
    assert rule.stop_length([1, 2, 3]) is None
    assert rule.ends_with_stop([1, 9]) and not rule.ends_with_stop([9, 1])
    ignoring = StopRule.build(SamplingParams(ignore_eos=True, stop_token_ids=(7,)), eos_token_ids=[9])
    assert ignoring.stop_length([9, 9, 7]) == 3


def test_stop_rule_strings_spanning_tokens():
    rule = StopRule.build(SamplingParams(stop=("cde",)), eos_token_ids=[], decode=_decode)
    # tokens 0..5 decode to "abcdef": "cde" is completed by token 4 ("e").
    assert rule.stop_length([0, 1, 2, 3, 4, 5]) == 5
    assert rule.ends_with_stop([0, 1, 2, 3, 4])
    assert not rule.ends_with_stop([0, 1, 2, 3])


def test_stop_strings_need_a_tokenizer():
    with pytest.raises(ValueError, match="tokenizer"):
        StopRule.build(SamplingParams(stop=("x",)), eos_token_ids=[])


@given(
    tokens=st.lists(st.integers(0, 30), max_size=40),
    stop=st.text(alphabet="abcdef", min_size=1, max_size=3),
    stop_ids=st.lists(st.integers(0, 30), max_size=2),
)
def test_trimming_agrees_with_step_by_step_stopping(tokens, stop, stop_ids):
    rule = StopRule.build(
        SamplingParams(stop=(stop,), stop_token_ids=tuple(stop_ids)), eos_token_ids=[], decode=_decode
    )
    first_step = next((end for end in range(1, len(tokens) + 1) if rule.ends_with_stop(tokens[:end])), None)
    assert rule.stop_length(tokens) == first_step
