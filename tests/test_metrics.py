"""The structure score on synthetic images: no fixtures, no network, milliseconds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtstyle.metrics import structure_score


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 200x300 scene of flat-coloured rectangles and circles on a smooth gradient."""
    rng = np.random.default_rng(0)
    img = np.zeros((200, 300, 3), np.uint8)
    img[:] = np.linspace(40, 120, 300, dtype=np.uint8)[None, :, None]
    for _ in range(8):
        x, y = int(rng.integers(0, 260)), int(rng.integers(0, 160))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(20, 80)), y + int(rng.integers(20, 60))), colour, -1)
    for _ in range(6):
        centre = (int(rng.integers(20, 280)), int(rng.integers(20, 180)))
        cv2.circle(img, centre, int(rng.integers(8, 40)), tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
    return img


def test_same_scene_scores_near_one(photo):
    brighter = np.clip(photo.astype(int) + 20, 0, 255).astype(np.uint8)
    assert structure_score(photo, photo) > 0.99
    assert structure_score(brighter, photo) > 0.99


def test_lost_scene_scores_near_zero(photo):
    flat = np.full_like(photo, 128)
    noise = np.random.default_rng(1).integers(0, 256, photo.shape, dtype=np.uint8)
    assert structure_score(flat, photo) == 0.0
    assert structure_score(noise, photo) < 0.2


def test_degraded_scene_scores_between(photo):
    blurred = cv2.GaussianBlur(photo, (0, 0), sigmaX=6).astype(float)
    noisy = np.clip(blurred + np.random.default_rng(2).normal(0, 120, photo.shape), 0, 255).astype(np.uint8)
    assert 0.2 < structure_score(noisy, photo) < 0.99


def test_symmetric_and_size_invariant(photo):
    other = cv2.GaussianBlur(photo, (0, 0), sigmaX=2)
    assert abs(structure_score(other, photo) - structure_score(photo, other)) < 1e-6
    bigger = cv2.resize(other, (450, 300), interpolation=cv2.INTER_CUBIC)
    assert abs(structure_score(bigger, photo) - structure_score(other, photo)) < 0.05
