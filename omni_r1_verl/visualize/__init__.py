"""Pictures of what the model did: mask-overlay videos, keyframe timelines, mask folders, sample galleries.

Pure rendering (numpy, Pillow, PyAV; no models, no verl, no Ray): plain data in (:mod:`.types`), arrays and files
out. Used by ``omni-r1 infer``, ``omni-r1 eval --visualize K`` and the training-time rollout gallery.

* :func:`write_overlay_video` / :class:`OverlayRenderer` (:mod:`.overlay`): masks in their colours with outlines,
  keyframes marked, the query as a caption; streamed frame by frame to H.264 (:mod:`.video`).
* :func:`render_timeline` (:mod:`.timeline`): sampled frames, moments over the waveform, keyframe cards.
* :class:`MaskWriter` / :class:`MaskReader` (:mod:`.masks_io`): the ``masks/`` folder (COCO RLE per frame).
* :func:`write_gallery` / :func:`gallery_images` (:mod:`.gallery`): a static HTML page and logger images.

Guide and pictures: ``docs/visualize.md``.
"""

from omni_r1_verl.visualize.draw import save_png
from omni_r1_verl.visualize.gallery import (
    GalleryEntry,
    gallery_dir,
    gallery_images,
    render_entry_card,
    write_gallery,
    write_gallery_index,
)
from omni_r1_verl.visualize.masks_io import MaskFolderError, MaskReader, MaskWriter
from omni_r1_verl.visualize.overlay import OverlayRenderer, OverlayStyle, blend_masks, write_overlay_video
from omni_r1_verl.visualize.palette import moment_colour, object_colour
from omni_r1_verl.visualize.timeline import TimelineLayout, TimelineStyle, render_timeline, timeline_layout
from omni_r1_verl.visualize.types import AnswerMarks, Audio, Frame, Keyframe, Moment, marks_from_answer
from omni_r1_verl.visualize.video import VideoInfo, VideoWriter, h264_encoder, iter_video, probe_video, read_video

__all__ = [
    "AnswerMarks",
    "Audio",
    "Frame",
    "GalleryEntry",
    "Keyframe",
    "MaskFolderError",
    "MaskReader",
    "MaskWriter",
    "Moment",
    "OverlayRenderer",
    "OverlayStyle",
    "TimelineLayout",
    "TimelineStyle",
    "VideoInfo",
    "VideoWriter",
    "blend_masks",
    "gallery_dir",
    "gallery_images",
    "h264_encoder",
    "iter_video",
    "marks_from_answer",
    "moment_colour",
    "object_colour",
    "probe_video",
    "read_video",
    "render_entry_card",
    "render_timeline",
    "save_png",
    "timeline_layout",
    "write_gallery",
    "write_gallery_index",
    "write_overlay_video",
]
