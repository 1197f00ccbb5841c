"""float32 values come back as the shortest decimal that round-trips in float32."""

from __future__ import annotations

import math
import random
import struct

import pytest

from pytest_model_gate.sources.float32 import shortest_f32, tidy


def f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


@pytest.mark.parametrize(("logged", "read"), [
    (0.9, 0.9), (0.1, 0.1), (0.85, 0.85), (1 / 3, 0.33333334), (123456.789, 123456.79),
    (1e-8, 1e-8), (3.4e38, 3.4e38), (1 + 2 ** -23, 1.0000001), (-0.75, -0.75),
])
def test_shortest(logged: float, read: float) -> None:
    assert shortest_f32(f32(logged)) == read


def test_tidy_leaves_float64_values_alone() -> None:
    assert tidy(0.8999999761581421) == 0.9  # a float32 quantity (.item())
    assert tidy(0.9) == 0.9 and tidy(1 / 3) == 1 / 3  # genuine float64 values
    assert math.isnan(tidy(float("nan"))) and tidy(math.inf) == math.inf and tidy(0.0) == 0.0


def test_round_trip_and_shortest_on_random_float32() -> None:
    rng = random.Random(12)
    for _ in range(20000):
        x = struct.unpack("<f", struct.pack("<I", rng.getrandbits(32)))[0]
        if not math.isfinite(x) or x == 0:
            continue
        s = shortest_f32(x)
        assert f32(s) == x
        digits = len(repr(s).split("e")[0].lstrip("-").replace(".", "").strip("0"))
        assert all(f32(float(f"{x:.{p}g}")) != x for p in range(1, digits))
