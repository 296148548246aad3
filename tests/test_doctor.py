"""The doctor's System-2 check, in-process: SAM 3 checkpoints are checked when the config points to them."""

from __future__ import annotations

from omni_r1_verl.doctor import _system2_check


def _config(sam2: dict, grounding: dict) -> dict:
    return {"system2": {"sam2": sam2, "grounding": grounding}}  # default reward weights read System 2


def test_sam3_checkpoints_are_parsed_and_reported(tiny_assets):
    sam3 = str(tiny_assets.extra["sam3"])
    check = _system2_check(
        _config({"backend": "sam3_tracker", "checkpoint": sam3}, {"backend": "sam3_text", "model_path": sam3})
    )
    assert check.ok, check
    assert check.detail.endswith("; SAM 3 sam3_tracker: sam3_video at 112 px, sam3_text: sam3_video at 112 px")


def test_a_sam2_directory_given_to_a_sam3_backend_fails_with_the_key(tiny_assets):
    sam3 = str(tiny_assets.extra["sam3"])
    check = _system2_check(
        _config(
            {"backend": "sam3_tracker", "checkpoint": str(tiny_assets.sam2_hf)},
            {"backend": "sam3_text", "model_path": sam3},
        )
    )
    assert not check.ok
    assert "is not a SAM 3 checkpoint: it holds a 'sam2_video' model; sam3_tracker loads" in check.detail
    assert check.fix.startswith("set system2.sam2.checkpoint=<existing path>")


def test_a_vlm_config_is_reported_without_sam3(tiny_assets):
    check = _system2_check(
        _config(
            {"backend": "hf_sam2", "checkpoint": str(tiny_assets.sam2_hf)},
            {"backend": "transformers", "model_path": str(tiny_assets.thinker)},
        )
    )
    assert check.ok and check.detail == f"sam2 {tiny_assets.sam2_hf}; grounding {tiny_assets.thinker}"
