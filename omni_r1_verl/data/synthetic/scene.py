"""Moving coloured shapes with exact masks, and tones that say which shape is sounding.

Each object is a circle, square or triangle of one colour that moves in a straight line (bouncing off the frame
edges), may enter late or leave early (absent frames), and is drawn in depth order so nearer objects occlude
farther ones: the masks are the *visible* pixels. Every shape has its own pitch, so an audio track made of the
sounding objects' tones identifies them. Everything is a pure function of a ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 200, 30),
    "purple": (150, 60, 190),
}
#: Tone of each shape (Hz) and how an expression names it.
TONES: dict[str, float] = {"circle": 330.0, "square": 660.0, "triangle": 1320.0}
PITCH: dict[str, str] = {"circle": "low-pitched", "square": "medium-pitched", "triangle": "high-pitched"}
#: Reasoning-style descriptions (what the shape is like, not what it is called).
RIDDLES: dict[str, str] = {
    "circle": "could roll like a wheel",
    "square": "has four equal sides",
    "triangle": "has exactly three corners",
}


@dataclass(frozen=True)
class Shape:
    """One object of a scene.

    Attributes:
        shape: One of :data:`SHAPES`.
        colour: One of :data:`COLOURS`.
        radius: Half size in pixels.
        x: Centre column at frame 0.
        y: Centre row at frame 0.
        vx: Columns per frame.
        vy: Rows per frame.
        enter: First frame the object is in the scene.
        leave: Last frame the object is in the scene.
    """

    shape: str
    colour: str
    radius: float
    x: float
    y: float
    vx: float
    vy: float
    enter: int
    leave: int

    @property
    def direction(self) -> str:
        """Dominant direction of motion (``left``, ``right``, ``up``, ``down``)."""
        if abs(self.vx) >= abs(self.vy):
            return "right" if self.vx > 0 else "left"
        return "down" if self.vy > 0 else "up"

    def centre(self, t: int, height: int, width: int) -> tuple[float, float]:
        """Centre at frame ``t``, bouncing off the frame edges."""
        return _bounce(self.x + self.vx * t, width), _bounce(self.y + self.vy * t, height)


def _bounce(pos: float, size: int) -> float:
    period = 2 * (size - 1)
    pos = pos % period
    return pos if pos <= size - 1 else period - pos


def shape_mask(shape: str, cx: float, cy: float, r: float, height: int, width: int) -> np.ndarray:
    """Pixels covered by a shape centred at ``(cx, cy)`` with half size ``r``.

    Returns:
        ``bool`` array ``(height, width)``.
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if shape == "circle":
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
    if shape == "square":
        return (np.abs(xs - cx) <= r) & (np.abs(ys - cy) <= r)
    if shape == "triangle":  # apex up, base at the bottom
        return (ys <= cy + r) & (np.abs(xs - cx) <= (ys - (cy - r)) / 2)
    raise ValueError(f"unknown shape {shape!r}")


@dataclass(frozen=True)
class Scene:
    """A video of moving shapes. ``objects`` are listed back to front (later ones occlude earlier ones)."""

    height: int
    width: int
    num_frames: int
    objects: tuple[Shape, ...]
    background: tuple[int, int, int]
    texture_seed: int

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """Draw every frame.

        Returns:
            ``frames`` ``uint8 (T, H, W, 3)`` and visible ``masks`` ``bool (num_objects, T, H, W)``; an object
            outside its ``[enter, leave]`` frames has an empty mask.
        """
        h, w, t_n = self.height, self.width, self.num_frames
        rng = np.random.default_rng(self.texture_seed)
        ramp = np.linspace(-25, 25, w, dtype=np.float32)[None, :, None]
        base = np.asarray(self.background, np.float32)[None, None, :] + ramp
        frames = np.empty((t_n, h, w, 3), dtype=np.uint8)
        masks = np.zeros((len(self.objects), t_n, h, w), dtype=bool)
        for t in range(t_n):
            canvas = base + rng.normal(0.0, 6.0, (h, w, 1)).astype(np.float32)
            for i, obj in enumerate(self.objects):
                if not obj.enter <= t <= obj.leave:
                    continue
                cx, cy = obj.centre(t, h, w)
                covered = shape_mask(obj.shape, cx, cy, obj.radius, h, w)
                masks[:i, t] &= ~covered
                masks[i, t] = covered
                canvas[covered] = COLOURS[obj.colour]
            frames[t] = np.clip(canvas, 0, 255).astype(np.uint8)
        return frames, masks

    def audio(self, sounding: list[int], seconds: float, sample_rate: int = 16_000) -> np.ndarray:
        """A mono track of the sounding objects' tones (each on for most of the clip, with soft edges).

        Args:
            sounding: Indices into :attr:`objects`.
            seconds: Duration.
            sample_rate: Samples per second.

        Returns:
            ``float32`` waveform in ``[-1, 1]``.
        """
        n = int(round(seconds * sample_rate))
        t = np.arange(n, dtype=np.float64) / sample_rate
        wave = np.zeros(n, dtype=np.float64)
        ramp = max(1, int(0.02 * sample_rate))
        for k, i in enumerate(sounding):
            tone = 0.3 * np.sin(2 * np.pi * TONES[self.objects[i].shape] * t + k)
            envelope = np.ones(n)
            envelope[:ramp] = np.linspace(0, 1, ramp)
            envelope[-ramp:] = np.linspace(1, 0, ramp)
            wave += tone * envelope
        wave += np.random.default_rng(self.texture_seed).normal(0, 0.003, n)
        return np.clip(wave, -1, 1).astype(np.float32)


def random_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    num_frames: int,
    num_objects: int,
    *,
    distinct_shapes: bool = False,
    allow_absence: bool = True,
) -> Scene:
    """Draw a scene.

    Args:
        rng: Source of randomness.
        height: Frame height.
        width: Frame width.
        num_frames: Frames.
        num_objects: Objects (at most 3 with ``distinct_shapes``).
        distinct_shapes: Give every object a different shape (so tones are distinct).
        allow_absence: Let some objects enter late or leave early.

    Returns:
        The scene.
    """
    if distinct_shapes and num_objects > len(SHAPES):
        raise ValueError(f"at most {len(SHAPES)} objects have distinct shapes")
    shapes = list(rng.permutation(SHAPES)[:num_objects]) if distinct_shapes else list(rng.choice(SHAPES, num_objects))
    colours = list(rng.choice(list(COLOURS), num_objects))
    objects = []
    for shape, colour in zip(shapes, colours):
        radius = float(rng.uniform(0.09, 0.16) * min(height, width))
        speed = rng.uniform(0.5, 1.5) * min(height, width) / max(num_frames, 1)
        angle = rng.uniform(0, 2 * np.pi)
        enter, leave = 0, num_frames - 1
        if allow_absence and num_frames > 6 and rng.random() < 0.35:
            if rng.random() < 0.5:
                enter = int(rng.integers(1, num_frames // 3 + 1))
            else:
                leave = int(rng.integers(2 * num_frames // 3, num_frames - 1))
        objects.append(
            Shape(
                shape=str(shape),
                colour=str(colour),
                radius=radius,
                x=float(rng.uniform(radius, width - radius)),
                y=float(rng.uniform(radius, height - radius)),
                vx=float(speed * np.cos(angle)),
                vy=float(speed * np.sin(angle)),
                enter=enter,
                leave=leave,
            )
        )
    background = tuple(int(v) for v in rng.integers(90, 170, 3))
    return Scene(height, width, num_frames, tuple(objects), background, int(rng.integers(2**31)))


@dataclass(frozen=True)
class Expression:
    """A referring expression that picks out exactly ``objects`` in a scene.

    Attributes:
        text: The expression.
        objects: Indices of the referred objects.
        kind: ``referring`` (names appearance), ``reasoning`` (describes a property), ``motion`` (names motion).
    """

    text: str
    objects: tuple[int, ...]
    kind: str


def describe(scene: Scene) -> list[Expression]:
    """Every unambiguous expression this generator knows for a scene (single- and multi-object).

    Args:
        scene: The scene.

    Returns:
        Expressions in a fixed order.
    """
    objs = scene.objects
    out: list[Expression] = []

    def group(key) -> dict[object, tuple[int, ...]]:
        groups: dict[object, list[int]] = {}
        for i, o in enumerate(objs):
            groups.setdefault(key(o), []).append(i)
        return {k: tuple(v) for k, v in groups.items()}

    for (colour, shape), idx in group(lambda o: (o.colour, o.shape)).items():
        if len(idx) == 1:
            out.append(Expression(f"the {colour} {shape}", idx, "referring"))
            out.append(Expression(f"the {colour} {shape} moving {objs[idx[0]].direction}", idx, "motion"))
    for shape, idx in group(lambda o: o.shape).items():
        if len(idx) == 1:
            out.append(Expression(f"the object that {RIDDLES[shape]}", idx, "reasoning"))
        else:
            out.append(Expression(f"all the {shape}s", idx, "referring"))
            out.append(Expression(f"every object that {RIDDLES[shape]}", idx, "reasoning"))
    for colour, idx in group(lambda o: o.colour).items():
        if len(idx) > 1:
            out.append(Expression(f"the {colour} objects", idx, "referring"))
    for direction, idx in group(lambda o: o.direction).items():
        noun = "object" if len(idx) == 1 else "objects"
        out.append(Expression(f"the {noun} moving {direction}", idx, "motion"))
    return out
