"""A direct reader of TensorBoard event files: TFRecord framing + the few Event fields needed.

TFRecord: `uint64 length, uint32 masked_crc32c(length), data, uint32 masked_crc32c(data)`.
Every length CRC is checked (cached per length: cheap), and so is the data CRC of each file's
last record, so a truncated or torn file is an error, never silently shorter history. The
protobuf decoding covers Event.{wall_time=1, step=2, summary=5} -> Summary.value=1 ->
Value.{tag=1, simple_value=2, metadata=9 -> plugin_data=1 -> plugin_name=1, tensor=8 ->
TensorProto.{dtype=1, tensor_shape=2, tensor_content=4, float_val=5, double_val=6}}.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .float32 import shortest_f32

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
DT_FLOAT, DT_DOUBLE = 1, 2


class EventFileError(Exception):
    """The file is not a complete TFRecord file (truncated, or a CRC mismatch)."""


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(buf: bytes) -> Iterator[bytes]:
    """The data of every record of a TFRecord file, checked as described above."""
    pos = 0
    end = len(buf)
    header_ok: dict[bytes, bool] = {}
    u32 = _U32.unpack_from
    while pos < end:
        if end - pos < 12:
            raise EventFileError(f"truncated record header at byte {pos}")
        head = buf[pos:pos + 8]
        ok = header_ok.get(head)
        if ok is None:
            ok = header_ok[head] = masked_crc(head) == u32(buf, pos + 8)[0]
        if not ok:
            raise EventFileError(f"corrupt record header at byte {pos} (CRC mismatch)")
        length = _U64.unpack_from(buf, pos)[0]
        start = pos + 12
        stop = start + length
        if stop + 4 > end:
            raise EventFileError(f"truncated record at byte {pos} (needs {length + 16} "
                                 f"bytes, {end - pos} left)")
        if stop + 4 == end and masked_crc(buf[start:stop]) != u32(buf, stop)[0]:
            raise EventFileError(f"corrupt last record at byte {pos} (CRC mismatch)")
        yield buf[start:stop]
        pos = stop + 4


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _skip(buf: bytes, pos: int, wire: int) -> int:
    if wire == 0:
        return _varint(buf, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 2:
        n, pos = _varint(buf, pos)
        return pos + n
    if wire == 5:
        return pos + 4
    raise EventFileError(f"unsupported protobuf wire type {wire}")


def _fields(buf: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, stop) of each field; varints as (start, stop)."""
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 2:
            n, start = _varint(buf, pos)
            pos = start + n
            yield field, wire, start, pos
        else:
            start = pos
            pos = _skip(buf, pos, wire)
            yield field, wire, start, pos
    if pos != end:
        raise EventFileError("a protobuf message overruns its length")


def _plugin_name(buf: bytes, start: int, stop: int) -> str | None:
    for field, _w, a, b in _fields(buf, start, stop):
        if field == 1:  # plugin_data
            for f2, _w2, c, d in _fields(buf, a, b):
                if f2 == 1:
                    return buf[c:d].decode("utf-8", "replace")
    return None


def _tensor_value(buf: bytes, start: int, stop: int) -> float | None:
    dtype = 0
    scalar = True
    content: bytes | None = None
    floats: list[float] = []
    for field, wire, a, b in _fields(buf, start, stop):
        if field == 1 and wire == 0:
            dtype = _varint(buf, a)[0]
        elif field == 2 and wire == 2:
            scalar = not any(f == 2 for f, _w, _a, _b in _fields(buf, a, b))  # no dims
        elif field == 4 and wire == 2:
            content = buf[a:b]
        elif field == 5:  # float_val, packed (wire 2) or not (wire 5)
            floats.extend(shortest_f32(v[0]) for v in _F32.iter_unpack(buf[a:b]))
        elif field == 6:
            floats.extend(v[0] for v in _F64.iter_unpack(buf[a:b]))
    if not scalar:
        return None
    if dtype == DT_FLOAT:
        if content is not None and len(content) == 4:
            return shortest_f32(_F32.unpack(content)[0])
        return floats[0] if len(floats) == 1 else None
    if dtype == DT_DOUBLE:
        if content is not None and len(content) == 8:
            value: float = _F64.unpack(content)[0]
            return value
        return floats[0] if len(floats) == 1 else None
    return None


Scalar = tuple[int, str, float]  # step, tag, value


def simple_scalar(data: bytes) -> Scalar | None:
    """The common event, decoded without the general parser: `wall_time, step, summary{one
    value{tag, simple_value}}` (what torch / tensorboardX `add_scalar` write), or None for
    any other layout (then `scalars` reads it)."""
    n = len(data)
    if n < 18 or data[0] != 0x09 or data[9] != 0x10:
        return None
    pos = 10
    step = 0
    shift = 0
    while True:
        b = data[pos]
        pos += 1
        step |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
    if step >= 1 << 63 or pos + 6 > n or data[pos] != 0x2A or data[pos + 1] >= 0x80 \
            or pos + 2 + data[pos + 1] != n or data[pos + 2] != 0x0A \
            or pos + 4 + data[pos + 3] != n or data[pos + 4] != 0x0A or data[pos + 5] >= 0x80:
        return None
    tag_end = pos + 6 + data[pos + 5]
    if tag_end + 5 != n or data[tag_end] != 0x15:
        return None
    tag = data[pos + 6:tag_end].decode("utf-8", "replace")
    return step, tag, shortest_f32(_F32.unpack_from(data, tag_end + 1)[0])


def scalars(data: bytes, plugins: dict[str, str]) -> Iterator[Scalar]:
    """The scalar values of one Event record. `plugins` remembers each tag's plugin (only the
    first event of a tag carries its metadata), so text / histogram tensors stay out."""
    step = 0
    summary: tuple[int, int] | None = None
    for field, wire, a, b in _fields(data, 0, len(data)):
        if field == 2 and wire == 0:
            step = _varint(data, a)[0]
            if step >= 1 << 63:
                step -= 1 << 64
        elif field == 5 and wire == 2:
            summary = (a, b)
    if summary is None:
        return
    for field, wire, a, b in _fields(data, *summary):
        if field != 1 or wire != 2:
            continue
        tag = ""
        simple: float | None = None
        tensor: tuple[int, int] | None = None
        plugin: str | None = None
        for f2, w2, c, d in _fields(data, a, b):
            if f2 == 1 and w2 == 2:
                tag = data[c:d].decode("utf-8", "replace")
            elif f2 == 2 and w2 == 5:
                simple = shortest_f32(_F32.unpack_from(data, c)[0])
            elif f2 == 9 and w2 == 2:
                plugin = _plugin_name(data, c, d)
            elif f2 == 8 and w2 == 2:
                tensor = (c, d)
        if plugin is not None:
            plugins.setdefault(tag, plugin)
        if simple is not None:
            yield step, tag, simple
        elif tensor is not None and plugins.get(tag, "scalars") == "scalars":
            value = _tensor_value(data, *tensor)
            if value is not None:
                yield step, tag, value
