"""Per-sample ``use_audio_in_video`` for verl agent loops.

verl applies one ``data.mm_processor_kwargs`` to every sample, but whether a video is interleaved with its audio
track is a per-sample fact: a ReVOS clip has no sound, a clip with a soundtrack does. With the flag set for a silent
video the processor runs out of audio (``StopIteration``) and vLLM asserts; without it a soundtrack would be laid out
as a separate item. :class:`OmniAgentLoopMixin` takes the flag from the sample's messages (the dataset marks
interleaved videos, :data:`~omni_r1_verl.data.system1_inputs.AUDIO_IN_VIDEO_KEY`) and applies it to the prompt
tokenization, the vLLM request and the kwargs stored with the trajectory (used again for training features), so the
three always agree.
"""

from __future__ import annotations

from typing import Any

from omni_r1_verl.data.system1_inputs import uses_audio_in_video

#: The processor / vLLM keyword this mixin sets.
USE_AUDIO_IN_VIDEO = "use_audio_in_video"


class OmniAgentLoopMixin:
    """Mix into a verl ``AgentLoopBase`` subclass, before it: ``class Loop(OmniAgentLoopMixin, SingleTurnAgentLoop)``.

    verl creates one agent-loop instance per trajectory, so the per-sample state kept here never leaks.
    """

    _omni_audio_in_video: bool | None = None

    async def process_multi_modal_info(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """verl's media extraction, plus the sample's ``use_audio_in_video`` (applied to the prompt builder).

        Args:
            messages: The sample's ``raw_prompt``.

        Returns:
            What verl's implementation returns (``images`` / ``videos`` / ``audios``).
        """
        data = await super().process_multi_modal_info(messages)
        self._omni_audio_in_video = uses_audio_in_video(messages)
        builder = getattr(self, "continuous_token_builder", None)
        if builder is not None and hasattr(builder, "mm_processor_kwargs"):
            builder.mm_processor_kwargs = {**builder.mm_processor_kwargs, USE_AUDIO_IN_VIDEO: self._omni_audio_in_video}
        return data

    def _get_mm_processor_kwargs(self, audio_data: list[Any] | None = None) -> dict[str, Any]:
        """verl's processor kwargs with this sample's ``use_audio_in_video`` (sent to vLLM, stored for training).

        Args:
            audio_data: The sample's audio waveforms.

        Returns:
            The kwargs.
        """
        kwargs = super()._get_mm_processor_kwargs(audio_data)
        if self._omni_audio_in_video is not None:
            kwargs[USE_AUDIO_IN_VIDEO] = self._omni_audio_in_video
        return kwargs
