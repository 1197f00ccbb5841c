"""float32 values as the shortest decimal that round-trips in float32.

Training tools log float32 tensors (TensorBoard, Lightning, Keras, HF via `.item()`), so a
logged 0.9 arrives as 0.8999999761581421 and would miss a bound of 0.90 by 2e-8. Reading it
back as the shortest decimal that gives the same float32 restores what was logged.
"""

from __future__ import annotations

import math
import struct

_F32 = struct.Struct("<f")
_pack = _F32.pack
_unpack = _F32.unpack


def _to_f32(value: float) -> float:
    result: float = _unpack(_pack(value))[0]
    return result


def shortest_f32(value: float) -> float:
    """The float32 `value` (already a float32 quantity) as the shortest round-tripping decimal.

    Round-tripping is monotone in the number of significant digits (9 always do), and most
    logged float32 values need 8 or 9: try 8 first, then search 1..7 only when 7 still does.
    """
    if value == 0.0 or not math.isfinite(value):
        return value
    target = _to_f32(value)
    eight = float(f"{target:.8g}")
    if _to_f32(eight) != target:
        return float(f"{target:.9g}")
    seven = float(f"{target:.7g}")
    if _to_f32(seven) != target:
        return eight
    lo, hi = 1, 7
    while lo < hi:
        mid = (lo + hi) // 2
        if _to_f32(float(f"{target:.{mid}g}")) == target:
            hi = mid
        else:
            lo = mid + 1
    return seven if lo == 7 else float(f"{target:.{lo}g}")


def from_f32_bits(raw: bytes) -> float:
    """Four little-endian bytes of a float32 -> its shortest decimal."""
    value: float = _unpack(raw)[0]
    return shortest_f32(value)


def tidy(value: float) -> float:
    """A value read from a text log: when it is exactly a float32 quantity (what `.item()` of a
    float32 tensor prints), its shortest float32 decimal; otherwise unchanged. A float64 that
    happens to be exact in float32 (0.5, 0.25) is its own shortest decimal, so nothing moves."""
    if not math.isfinite(value) or value == 0.0:
        return value
    try:
        if _to_f32(value) != value:
            return value
    except OverflowError:
        return value
    return shortest_f32(value)
