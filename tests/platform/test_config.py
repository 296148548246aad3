"""Validation of the ``hf`` backend's typed config (``rollout.engine_kwargs.hf``)."""

from __future__ import annotations

import pytest

from omni_r1_verl.platform.config import HFEngineConfig


def test_engine_kwargs_are_read_and_validated():
    config = HFEngineConfig.from_engine_kwargs({"hf": {"max_batch_size": 4, "batch_wait_ms": 10}, "vllm": {"x": 1}})
    assert (config.max_batch_size, config.batch_wait_ms, config.max_batch_wait_ms) == (4, 10, 1000.0)
    assert HFEngineConfig.from_engine_kwargs(None) == HFEngineConfig()
    with pytest.raises(ValueError, match="unknown"):
        HFEngineConfig.from_engine_kwargs({"hf": {"batch_size": 4}})


@pytest.mark.parametrize(
    "values, message",
    [
        ({"max_batch_size": 0}, "max_batch_size must be >= 1"),
        ({"batch_wait_ms": -1}, "batch_wait_ms must be >= 0"),
        ({"batch_wait_ms": 50, "max_batch_wait_ms": 10}, "max_batch_wait_ms .* must be >= batch_wait_ms"),
        ({"num_threads": -2}, "num_threads must be >= 0"),
    ],
)
def test_invalid_values_are_refused_with_the_key(values, message):
    with pytest.raises(ValueError, match=message):
        HFEngineConfig(**values)
