"""Evaluation metrics with each benchmark's official conventions (numpy; no torch, verl or Ray).

* :mod:`~omni_r1_verl.metrics.masks`: DAVIS J and F per frame (``j_and_f``, ``region_similarity``,
  ``boundary_f``), exact and vectorised; :mod:`~omni_r1_verl.metrics.reference` writes them out frame by frame.
* :mod:`~omni_r1_verl.metrics.video`: per-sample streaming J / F / ReVOS R of a video (``VideoAccumulator``).
* :mod:`~omni_r1_verl.metrics.revos`, :mod:`~omni_r1_verl.metrics.mevis`, :mod:`~omni_r1_verl.metrics.refavs`,
  :mod:`~omni_r1_verl.metrics.refcocog`: each benchmark's per-sample conventions and its table, aggregated from
  per-sample records (plain dicts, one JSONL line each) in any order, plus the MeViS server submission.

See ``docs/metrics.md`` for the definitions, sources and quirks.
"""

from omni_r1_verl.metrics.masks import BOUND_TH, boundary_f, boundary_map, boundary_radius, j_and_f, region_similarity
from omni_r1_verl.metrics.mevis import MevisSubmission, mevis_table, read_mevis_submission
from omni_r1_verl.metrics.refavs import (
    RefAVSAccumulator,
    failed_refavs_scores,
    refavs_f,
    refavs_f_curves,
    refavs_j,
    refavs_null_s,
    refavs_table,
)
from omni_r1_verl.metrics.refcocog import failed_segzero_counts, refcocog_table, segzero_counts
from omni_r1_verl.metrics.revos import revos_robustness, revos_table
from omni_r1_verl.metrics.video import VideoAccumulator, failed_video_scores

__all__ = [
    "BOUND_TH",
    "MevisSubmission",
    "RefAVSAccumulator",
    "VideoAccumulator",
    "boundary_f",
    "boundary_map",
    "boundary_radius",
    "failed_refavs_scores",
    "failed_segzero_counts",
    "failed_video_scores",
    "j_and_f",
    "mevis_table",
    "read_mevis_submission",
    "refavs_f",
    "refavs_f_curves",
    "refavs_j",
    "refavs_null_s",
    "refavs_table",
    "refcocog_table",
    "region_similarity",
    "revos_robustness",
    "revos_table",
    "segzero_counts",
]
