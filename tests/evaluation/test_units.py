"""Config, overrides, plans and baselines (pure parts of the harness)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from omni_r1_verl.cli import eval as eval_cli
from omni_r1_verl.contracts.clip import Clip
from omni_r1_verl.contracts.rows import Task
from omni_r1_verl.evaluation.baselines import BASELINES, oracle_box_plan, oracle_plan, visible_frames
from omni_r1_verl.evaluation.config import EvalConfig
from omni_r1_verl.evaluation.plan import plan_from_answer, segzero_box
from omni_r1_verl.evaluation.samples import BENCHMARKS, EvalSample
from omni_r1_verl.evaluation.scorers import SCORERS
from omni_r1_verl.scoring.config import AnswerConfig
from omni_r1_verl.utils.config import ConfigError


def test_cli_lists_match_the_package():
    assert eval_cli.BENCHMARKS == tuple(BENCHMARKS) == tuple(SCORERS)
    assert eval_cli.BASELINES == BASELINES


def test_overrides_become_sections_and_unknown_keys_name_the_key():
    sections = eval_cli.parse_overrides(["system2.sam2.checkpoint=/x.pt", "evaluation.system1.max_new_tokens=7"])
    assert sections["system2"] == {"sam2": {"checkpoint": "/x.pt"}}
    assert EvalConfig.from_dict(sections["evaluation"]).system1.max_new_tokens == 7
    with pytest.raises(ValueError, match="KEY=VALUE"):
        eval_cli.parse_overrides(["trainer.x=1"])
    with pytest.raises(ConfigError, match="evaluation.system1.enginee"):
        EvalConfig.from_dict({"system1": {"enginee": "hf"}})
    with pytest.raises(ConfigError, match="chunk_frames"):
        EvalConfig.from_dict({"chunk_frames": 0})


def test_answer_keyframes_map_from_the_clip_to_the_video():
    clip = Clip((0, 5, 10, 15), fps=2.0)
    text = '<think>t</think><answer>[{"start_time": 1.0, "end_time": 1.4, "description": "the red ball"}]</answer>'
    plan = plan_from_answer(Task.VOS, text, clip, AnswerConfig())
    assert [(k.clip_index, k.description) for k in plan.keyframes] == [(10, "the red ball")]
    assert plan.clip_frames == [2] and plan.moments[0]["valid"] and not plan.reason
    empty = plan_from_answer(Task.VOS, "no answer", clip, AnswerConfig())
    assert not empty.keyframes and empty.reason and "no_answer" in empty.problems


def test_segzero_box_is_mapped_back_to_original_pixels():
    answer = '{"bbox_2d": [10, 20, 30, 40], "points_1": [15, 25], "points_2": [20, 30]}'
    assert segzero_box(answer, (200, 400), (100, 200)) == [20.0, 40.0, 60.0, 80.0]
    assert segzero_box('{"bbox_2d": [1, 2, "x", 4]}', (10, 10), (10, 10)) is None
    plan = plan_from_answer(
        Task.IMAGE_GROUNDING,
        f"<answer>{answer}</answer>",
        Clip((0,)),
        AnswerConfig(),
        image_hw=(56, 56),
        image_pixels=(56 * 56, 56 * 56),
        expression="the cat",
    )
    assert plan.keyframes[0].boxes == [[10.0, 20.0, 30.0, 40.0]] and plan.keyframes[0].description == "the cat"


def test_oracle_keyframes_lie_where_the_target_is_visible(eval_data):
    row = pq.read_table(eval_data["revos"]).to_pylist()[0]
    sample = EvalSample.from_row(row, 0)
    visible = visible_frames(sample)
    plan = oracle_plan(sample, 3)
    assert plan.keyframes and all(k.clip_index in visible for k in plan.keyframes)
    assert all(k.description == sample.expression for k in plan.keyframes)
    boxed = oracle_box_plan(sample, 3)
    assert all(k.boxes and all(b[2] > b[0] and b[3] > b[1] for b in k.boxes) for k in boxed.keyframes)


def test_evaluation_clip_is_uniform_and_capped(eval_data):
    from omni_r1_verl.data.omni_data_config import OmniDataConfig

    row = pq.read_table(eval_data["mevis"]).to_pylist()[0]
    sample = EvalSample.from_row(row, 0)
    _, clip = sample.messages(OmniDataConfig(), 4, False)
    assert len(clip.frame_indices) == 4 and clip.frame_indices[0] == 0
    assert clip.frame_indices[-1] == sample.num_frames - 1
    _, whole = sample.messages(OmniDataConfig(), 64, False)
    assert whole.frame_indices == tuple(range(sample.num_frames))


def test_system1_refuses_a_checkpoint_of_the_wrong_kind_naming_the_file(tiny_assets):
    from omni_r1_verl.data.omni_data_config import OmniDataConfig
    from omni_r1_verl.evaluation.config import System1Config
    from omni_r1_verl.evaluation.system1 import build_system1
    from omni_r1_verl.models.qwen2_5_omni.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match=r"sam2_hf/config.json: model_type 'sam2_video'"):
        build_system1(str(tiny_assets.sam2_hf), System1Config(engine="hf", device="cpu"), OmniDataConfig())
