"""Run System 1 + System 2 on one video file and a query, and draw what they did.

The video is decoded once; System 1 (the Qwen2.5-Omni thinker of --model) sees the evaluation clip
(evaluation.clip_frames uniformly spaced frames at the training resolution, with the audio), answers with moments
and a description per keyframe; System 2 grounds each keyframe at full resolution and SAM2 propagates the boxes
through every frame of the video. Exactly the modules of `omni-r1 eval`. Writes, under --out:

  overlay.mp4    the video, same frame count and fps, each object's mask in its own colour with an outline,
                 keyframes marked (border + time + description), the query as a caption, the input's audio
  timeline.png   the clip's frames, the chosen moments over the audio waveform, one card per keyframe with
                 its masks and the rewritten description
  masks/         COCO RLE per frame and object (index.json names each object after its keyframe description)
  answer.json    System 1's response, reasoning, parsed moments, keyframes with System 2's boxes, objects,
                 status, timings

Audio: the video's own track by default, or --audio FILE. A `vos` query (default) runs without audio when there is
none; --task avs (Ref-AVS: System 1 hears the audio and sees the first frame) and --require-audio make a missing
track an error.

overrides (KEY=VALUE, YAML values; the same sections as omni-r1 eval):
  system2.*        System 2 (docs/config.md): sam2.checkpoint, grounding.model_path, prompt style, propagation
  evaluation.*     system1.engine (hf | vllm | auto), system1.max_new_tokens, clip_frames, answer.max_keyframes
  data.omni_r1.*   System-1 inputs: video_max_pixels, fps, ...

exit status: 0 done (also when System 1 gave no valid moment: the pictures say so), 2 bad input, checkpoint or
config (one line naming the file and the fix)

examples:
  omni-r1 infer clip.mp4 "the dog that starts barking" --model ckpt/Omni-R1-7B --out out/dog \\
      system2.sam2.checkpoint=ckpt/sam2.1_hiera_large.pt system2.grounding.model_path=ckpt/Qwen2.5-VL-7B
  omni-r1 infer clip.mp4 "the dog" --answer-file answer.txt --out out/replay system2.sam2.checkpoint=...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "infer"
HELP = "run System 1 + System 2 on a video file and a query: overlay video, timeline, masks, answer.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments.

    Args:
        parser: The sub-command parser.
    """
    parser.add_argument("video", type=Path, help="the video file (anything PyAV decodes: mp4, webm, mov, ...)")
    parser.add_argument("query", help="the referring query, quoted")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", default="", help="System-1 checkpoint (thinker-only or full Qwen2.5-Omni)")
    source.add_argument(
        "--answer-file",
        type=Path,
        help="use this System-1 answer text instead of running System 1 (replay or debug an answer: the same "
        "parser and System 2 run on it)",
    )
    parser.add_argument("--audio", type=Path, help="audio file to use instead of the video's own track")
    parser.add_argument("--out", type=Path, default=Path("infer_out"), help="output folder (default: infer_out)")
    parser.add_argument(
        "--task",
        choices=("vos", "avs"),
        default="vos",
        help="vos: System 1 picks moments in the clip (default); avs: Ref-AVS, System 1 hears the audio and sees "
        "the first frame, then rewrites the query (needs audio)",
    )
    parser.add_argument("--require-audio", action="store_true", help="fail when there is no audio track")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda[:N]")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (see above)")


def run(args: argparse.Namespace) -> int:
    """Run inference and print where the outputs are.

    Args:
        args: Parsed arguments.

    Returns:
        Exit status (see the module docstring).
    """
    from omni_r1_verl.cli.eval import parse_overrides
    from omni_r1_verl.data.omni_data_config import OmniDataConfig
    from omni_r1_verl.detail.config import DetailConfig
    from omni_r1_verl.evaluation.config import EvalConfig
    from omni_r1_verl.evaluation.infer import InferError, InferSettings, run_infer
    from omni_r1_verl.models.qwen2_5_omni.checkpoint import CheckpointError
    from omni_r1_verl.utils.config import ConfigError

    try:
        sections = parse_overrides(args.overrides)
        settings = InferSettings(
            video=args.video,
            query=args.query,
            out=args.out,
            model=args.model,
            audio=args.audio,
            task=args.task,
            require_audio=args.require_audio,
            answer_file=args.answer_file,
            evaluation=EvalConfig.from_dict(sections["evaluation"]),
            system2=DetailConfig.from_dict(sections["system2"]),
            omni_data=OmniDataConfig.from_dict(sections["data"]),
            device=args.device,
            progress=not args.no_progress,
        )
    except (ConfigError, ValueError) as err:  # InferError is a ValueError
        print(f"omni-r1 infer: {err}", file=sys.stderr)
        return 2
    try:
        result = run_infer(settings)
    except (InferError, CheckpointError) as err:
        print(f"omni-r1 infer: {err}", file=sys.stderr)
        return 2
    answer = result.answer
    status = answer["system2"]
    objects = ", ".join(f"{o['id']}: {o['name']}" for o in answer["objects"]) or "none"
    print(f"{len(answer['moments'])} moment(s), {len(answer['keyframes'])} keyframe(s); System 2: {status['status']}")
    if status["reason"]:
        print(f"  {status['reason']}")
    print(f"objects: {objects}")
    for name, path in (("overlay", result.overlay), ("timeline", result.timeline), ("masks", result.masks)):
        print(f"{name:9s} {path}")
    print(f"{'answer':9s} {result.out / 'answer.json'}")
    return 0
