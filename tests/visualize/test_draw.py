"""Text wrapping fits its width, survives hostile input, and patches composite where they should."""

from __future__ import annotations

import numpy as np
import pytest

from omni_r1_verl.visualize.draw import (
    ELLIPSIS,
    MAX_TEXT_CHARS,
    blend_rect,
    check_image,
    clean_text,
    composite,
    font,
    text_patch,
    wrap_text,
)


def test_wrapped_lines_fit_and_keep_every_word():
    fnt = font(14)
    text = "the small red car that turns left at the crossing, behind the bus " * 4
    lines = wrap_text(text, fnt, 180)
    assert len(lines) > 3
    assert all(fnt.getlength(line) <= 180 for line in lines)
    assert " ".join(lines).split() == text.split()


def test_long_words_are_broken_and_max_lines_ends_with_an_ellipsis():
    fnt = font(14)
    lines = wrap_text("x" * 500, fnt, 100)
    assert len(lines) > 3 and all(fnt.getlength(line) <= 100 for line in lines)
    assert "".join(lines) == "x" * 500
    cut = wrap_text("word " * 200, fnt, 100, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith(ELLIPSIS)
    assert fnt.getlength(cut[-1]) <= 100


def test_hostile_text_is_cleaned_and_bounded():
    assert clean_text("a\x00b\tc\x1b[31m") == "a b c [31m"
    assert clean_text(None) == "None"
    huge = clean_text("y" * (10 * MAX_TEXT_CHARS))
    assert len(huge) == MAX_TEXT_CHARS and huge.endswith(ELLIPSIS)
    lines = wrap_text("\n\n one\n\ntwo \n", font(12), 200)
    assert lines == ["", "", "one", "", "two"]


def test_text_patch_and_composite():
    fnt = font(16)
    rgb, alpha = text_patch(["Hello"], fnt, colour=(255, 0, 0), background=(0, 0, 255), background_alpha=0.5, pad=3)
    assert rgb.shape[:2] == alpha.shape
    assert alpha.min() == round(0.5 * 255) and alpha.max() == 255  # box at half opacity, glyph cores opaque
    assert (rgb[alpha == 255] == (255, 0, 0)).all()
    dst = np.zeros((10, 10, 3), np.uint8)
    composite(dst, rgb, alpha, 6, -2)  # partly outside: clipped, no error
    assert dst[:, :6].max() == 0 and dst[:, 6:].max() > 0


def test_blend_rect_and_check_image():
    dst = np.full((4, 6, 3), 100, np.uint8)
    blend_rect(dst, 2, 1, 10, 3, (200, 0, 100), 0.5)
    assert dst[1, 3].tolist() == [150, 50, 100] and dst[0, 3].tolist() == [100, 100, 100]
    with pytest.raises(ValueError, match="uint8"):
        check_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        check_image(np.zeros((4, 4), np.uint8))
