"""Prompt templates of both systems, verbatim from the authors' training code (see docs/reproduction.md).

Pure string building: the dataset class and the converters render System-1 prompts, the detail workers render
System-2 grounding prompts, the scoring library parses what these prompts ask for.
"""

from __future__ import annotations

import enum
import random
from typing import Any

from omni_r1_verl.contracts.clip import VIRTUAL_FPS

_VOS_HEAD = (
    "Given a [frames] seconds video and a reference instruction: [ref_prompt] that may involve temporal behavior, "
    "identify the exact object(s) [ref_prompt] in the video that matches the description. "
)
_VOS_BODY = (
    "Then, simplify the identified object into a short and clear visual grounding description that can be used for "
    "single-image reference at each moment. Avoid temporal phrases and comparison phrases like 'walking', 'moving', "
    "'approaching', 'bigger' or 'smaller', but instead describe visible visual cues like clothing, pose, position, or "
    "grouping. Try to select moments that are **temporally well-distributed across the video**, rather than "
    "clustered in the same part of the timeline. Avoid selecting multiple timestamps that are adjacent or "
    "overlapping; instead, prefer clearly distinct moments that each offer unique visual information. It's better "
    "to choose the most relevant and highly representative moments **spanning the entire video**, rather than "
    "picking all from the beginning. Explain your reasoning in <think>...</think> and output the final result in "
    "<answer>...</answer>"
)

#: VOS prompt with "prompt forcing" (4 moments, JSON example with randomised times): the released recipe's.
VOS_FORCED_TEMPLATE = (
    _VOS_HEAD
    + "Select about 4 most relevant moments that contain the referred object(s) with the best view. "
    + _VOS_BODY
    + ". Your final answer should be a JSON object in the following format, which is an answer containing 4 moments:\n"
    "<think> your analysis about the video and reference instruction </think>\n"
    "<answer>\n"
    + "".join(
        "{\n"
        f'  "start_time": "00:[start{k}]",\n'
        f'  "end_time": "00:[end{k}]",\n'
        '  "description": "direct description of referred object(s) at this moment"\n'
        "}\n"
        for k in ("", "1", "2", "3")
    )
    + "</answer>\n"
)

#: VOS prompt without the 4-moment example (the reference's ``use_prompt_forcing=False``).
VOS_NO_HINT_TEMPLATE = (
    _VOS_HEAD
    + "Select about 1-4 most relevant moments that contain the referred object(s) with the best view. "
    + _VOS_BODY
    + " in json format with 'mm:ss.ff' format for time depiction."
)

#: RefAVS prompt (System 1 sees frame 0 and the full audio).
REFAVS_TEMPLATE = (
    "Given a 10-second audio and a reference instruction: [ref_prompt], which involves temporal and audio-related "
    "behavior, first analyze the objects in the image that are producing sound — including both human voices and "
    "instrument sounds. Then, based on the audio content, identify the exact object [ref_prompt] in the image that "
    "matches the audio. Next, simplify the identified object into a short and clear visual grounding description, "
    "so that it can be unambiguously recognized in a single image without relying on audio. Avoid using temporal "
    "expressions (such as 'playing', or 'moving'), and instead describe direct visible visual cues such as clothing, "
    "pose, position, or grouping. Write your reasoning in <think>...</think> and the final result in "
    "<answer>...</answer>."
)

#: Seg-Zero style image grounding prompt (refCOCOg); sentences are joined without spaces, as in the reference.
SEGZERO_TEMPLATE = (
    "Please find '{Question}' with bbox and points."
    "Compare the difference between objects and find the most closely matched one."
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "Output the one bbox and points of two largest inscribed circles inside the interested object in JSON format."
    "i.e., <think> thinking process here </think><answer>{Answer}</answer>"
)
SEGZERO_ANSWER_EXAMPLE = '{"bbox_2d": [x1, y1, x2, y2], "points_1": [x3, y3], "points_2": [x4, y4]}'


class GroundingPromptStyle(str, enum.Enum):
    """System-2 grounding prompt styles (the reference selected them with environment variables)."""

    PLAIN = "plain"
    VISION_REASONER = "vision_reasoner"
    SEG_ZERO = "seg_zero"
    QWEN_VL = "qwen_vl"


_GROUNDING_TEMPLATES: dict[GroundingPromptStyle, str] = {
    GroundingPromptStyle.PLAIN: "Given the expression: '{Question}', ground all the referred objects with json bboxs",
    GroundingPromptStyle.VISION_REASONER: (
        'Please find "{Question}" with bboxs and points.'
        "Compare the difference between object(s) and find the most closely matched object(s)."
        "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
        "Output the bbox(es) and point(s) inside the interested object(s) in JSON format."
        "i.e., <think> thinking process here </think><answer>{Answer}</answer>"
    ),
    GroundingPromptStyle.SEG_ZERO: SEGZERO_TEMPLATE,
    GroundingPromptStyle.QWEN_VL: "Locate {Question}, output its bbox coordinates using JSON format.",
}
_VISION_REASONER_ANSWER = (
    '[{"bbox_2d": [10,100,200,210], "point_2d": [30,110]}, {"bbox_2d": [225,296,706,786], "point_2d": [302,410]}]'
)


def _bracket(expression: str) -> str:
    return "[" + expression + "]"


def render_vos_prompt(
    expression: str,
    num_frames: int,
    forced: bool = True,
    rng: random.Random | None = None,
    fps: float = VIRTUAL_FPS,
) -> str:
    """System-1 VOS prompt for a clip of ``num_frames`` sampled frames shown at ``fps``.

    Args:
        expression: The referring / reasoning expression.
        num_frames: Frames in the sampled clip (the clip lasts ``num_frames / fps`` seconds).
        forced: Use the 4-moment JSON example (the released recipe) instead of the no-hint template.
        rng: Source of the randomised example times (pass a seeded ``random.Random`` for determinism).
        fps: Virtual frame rate of the clip (``data.omni_r1.fps``): clip frame k sits at ``k / fps`` seconds.

    Returns:
        The prompt text.

    Raises:
        ValueError: If ``fps`` is not positive.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    rng = rng or random.Random(0)
    text = (VOS_FORCED_TEMPLATE if forced else VOS_NO_HINT_TEMPLATE).replace("[ref_prompt]", _bracket(expression))
    text = text.replace("[frames]", str(num_frames / fps))
    if forced:
        for k in ("", "1", "2", "3"):
            # The reference draws a random frame and sets end = start (so the example never teaches a span length).
            seconds = f"{rng.randint(0, max(num_frames - 2, 0)) / fps:05.2f}"
            text = text.replace(f"[start{k}]", seconds, 1).replace(f"[end{k}]", seconds, 1)
    return text


def render_refavs_prompt(expression: str) -> str:
    """System-1 RefAVS prompt.

    Args:
        expression: The audio-visual referring expression.

    Returns:
        The prompt text.
    """
    return REFAVS_TEMPLATE.replace("[ref_prompt]", _bracket(expression))


def render_segzero_prompt(question: str) -> str:
    """System-1 image grounding prompt (refCOCOg, Seg-Zero style).

    Args:
        question: The referring expression.

    Returns:
        The prompt text.
    """
    return SEGZERO_TEMPLATE.format(Question=question.lower().strip("."), Answer=SEGZERO_ANSWER_EXAMPLE)


def render_grounding_prompt(description: str, style: GroundingPromptStyle | str = GroundingPromptStyle.PLAIN) -> str:
    """System-2 grounding prompt for one keyframe description.

    Args:
        description: System 1's single-image description of the target.
        style: One of :class:`GroundingPromptStyle`.

    Returns:
        The prompt text.
    """
    style = GroundingPromptStyle(style)
    template = _GROUNDING_TEMPLATES[style]
    if style is GroundingPromptStyle.PLAIN:
        return template.format(Question=description.lower().strip())
    if style is GroundingPromptStyle.VISION_REASONER:
        return template.format(Question=description.lower().strip("."), Answer=_VISION_REASONER_ANSWER)
    if style is GroundingPromptStyle.SEG_ZERO:
        return template.format(Question=description.lower().strip("."), Answer=SEGZERO_ANSWER_EXAMPLE)
    return template.format(Question=description.strip())


def grounding_messages(prompt: str) -> list[dict[str, Any]]:
    """System-2 chat: one user turn, the keyframe then the prompt (the reference's layout).

    Args:
        prompt: A :func:`render_grounding_prompt` text.

    Returns:
        The messages for the processor's chat template (the image is passed to the processor separately).
    """
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
