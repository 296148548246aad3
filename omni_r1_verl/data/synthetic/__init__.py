"""Synthetic datasets in the four published layouts (``omni-r1 synth``): small, seeded, offline.

They feed the converter tests, the benchmarks and the CPU demo: moving shapes with exact masks (occlusion,
absence), audio tones that identify the sounding object, and expressions naming colour, shape, motion or sound.
"""

from collections.abc import Callable
from pathlib import Path

from omni_r1_verl.data.synthetic.refavs import write_refavs, write_refavs_media
from omni_r1_verl.data.synthetic.refcocog import write_refcocog
from omni_r1_verl.data.synthetic.vos import write_mevis, write_revos

#: Writer of each dataset layout, by converter name.
SYNTHESIZERS: dict[str, Callable[..., Path]] = {
    "revos": write_revos,
    "mevis": write_mevis,
    "refavs": write_refavs,
    "refcocog": write_refcocog,
}

__all__ = ["SYNTHESIZERS", "write_mevis", "write_refavs", "write_refavs_media", "write_refcocog", "write_revos"]
