"""A synthetic refCOCOg_2k_840 in the HuggingFace hub layout (``data/train-00000-of-00001.parquet``).

Each image holds a few still shapes; the problem names one of them unambiguously, and the solution string gives
its box and the centres of its two largest inscribed circles (Seg-Zero's points), in original pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image
from scipy import ndimage

from omni_r1_verl.data.synthetic.scene import describe, random_scene

#: Radius of the disc removed around the first point before looking for the second (Seg-Zero's min_distance).
MIN_DISTANCE = 10


def inscribed_points(mask: np.ndarray, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Centres of the two largest inscribed circles of a mask, ``(x, y)``.

    The first is the maximum of the distance transform; the second the maximum after removing a disc of radius
    :data:`MIN_DISTANCE` around the first (a random foreground pixel if nothing is left).
    """
    dist = ndimage.distance_transform_edt(mask)
    y1, x1 = np.unravel_index(int(np.argmax(dist)), dist.shape)
    ys, xs = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    rest = np.where((ys - y1) ** 2 + (xs - x1) ** 2 <= MIN_DISTANCE**2, 0, dist)
    y2, x2 = np.unravel_index(int(np.argmax(rest)), rest.shape)
    if rest[y2, x2] == 0:
        fy, fx = np.nonzero(mask)
        k = int(rng.integers(len(fy)))
        y2, x2 = fy[k], fx[k]
    return [(int(x1), int(y1)), (int(x2), int(y2))]


def write_refcocog(out: str | Path, *, seed: int = 0, images: int = 16, size: int = 112) -> Path:
    """Write a synthetic refCOCOg_2k_840.

    Args:
        out: Dataset root to create.
        seed: Seed of everything.
        images: Number of images.
        size: Image side (the real set is 840 x 840).

    Returns:
        The dataset root.
    """
    import datasets

    root = Path(out)
    rng = np.random.default_rng(seed + 4)
    columns: dict[str, list] = {k: [] for k in ("id", "problem", "solution", "image", "img_height", "img_width")}
    while len(columns["id"]) < images:
        scene = random_scene(rng, size, size, 1, int(rng.integers(2, 5)), allow_absence=False)
        frames, masks = scene.render()
        singles = [e for e in describe(scene) if len(e.objects) == 1 and e.kind != "motion"]
        visible = [e for e in singles if masks[e.objects[0], 0].sum() > 4 * MIN_DISTANCE]
        if not visible:
            continue
        expr = visible[int(rng.integers(len(visible)))]
        mask = masks[expr.objects[0], 0]
        ys, xs = np.nonzero(mask)
        (px1, py1), (px2, py2) = inscribed_points(mask, rng)
        solution = (
            f"<box>({xs.min()},{ys.min()}),({xs.max()},{ys.max()})</box><points>({px1},{py1}),({px2},{py2})</points>"
        )
        buffer = io.BytesIO()
        Image.fromarray(frames[0]).save(buffer, format="JPEG", quality=90)
        columns["id"].append(f"synth_{len(columns['id']):05d}")
        columns["problem"].append(expr.text)
        columns["solution"].append(solution)
        columns["image"].append({"bytes": buffer.getvalue(), "path": None})
        columns["img_height"].append(size)
        columns["img_width"].append(size)
    # Through `datasets` so the file carries the hub's feature metadata (image = datasets.Image()).
    table = datasets.Dataset.from_dict(columns).cast_column("image", datasets.Image()).data.table
    path = root / "data" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, str(path))
    return root
