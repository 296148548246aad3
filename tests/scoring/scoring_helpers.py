"""Builders shared by the scoring tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import json

from omni_r1_verl.contracts.rows import GroundTruth


def answer(*moments, think: str = "reasoning") -> str:
    """A well-formed System-1 response holding ``moments`` (dicts or raw JSON text) as a JSON list."""
    body = ", ".join(m if isinstance(m, str) else json.dumps(m) for m in moments)
    return f"<think>{think}</think> <answer>[{body}]</answer>"


def moment(start: str, end: str, description: str = "the dog") -> dict:
    return {"start_time": start, "end_time": end, "description": description}


def vos_gt(areas, height: int = 100, width: int = 200) -> GroundTruth:
    return GroundTruth(
        task="vos",
        gt_key="video/exp",
        num_frames=len(areas[0]),
        height=height,
        width=width,
        num_objects=len(areas),
        areas=[list(a) for a in areas],
    )
