"""benchmarks/tfevents_summary.py reads TensorBoard event files without TensorBoard: checked on a
file written here by hand, field by field, as TensorBoard's writer lays it out."""
import importlib.util
import struct
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def tfevents():
    spec = importlib.util.spec_from_file_location("tfevents_summary", ROOT / "benchmarks" / "tfevents_summary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def field(number: int, wire: int, payload: bytes) -> bytes:
    key = varint(number << 3 | wire)
    return key + (varint(len(payload)) + payload if wire == 2 else payload)


def event(step: int, values: dict[str, float]) -> bytes:
    """One TFRecord: an Event with wall_time (1, double), step (2, varint) and a Summary (5)
    of Values with tag (1) and simple_value (2, float); the CRCs are not checked, so zeros."""
    summary = b"".join(field(1, 2, field(1, 2, tag.encode()) + field(2, 5, struct.pack("<f", value)))
                       for tag, value in values.items())
    message = field(1, 1, struct.pack("<d", 1.6e9)) + field(2, 0, varint(step)) + field(5, 2, summary)
    return struct.pack("<Q", len(message)) + b"\0" * 4 + message + b"\0" * 4


def test_scalars_come_back_by_tag_with_their_steps(tmp_path):
    path = tmp_path / "events.out.tfevents.1"
    path.write_bytes(event(0, {}) + event(90_000, {"alpha": 0.5, "return": 168.0})
                     + event(300_000, {"alpha": 0.25}) + event(1_090_000, {"alpha": 0.375, "return": 724.0}))
    series = tfevents().scalars(path)
    assert series == {"alpha": [(90_000, 0.5), (300_000, 0.25), (1_090_000, 0.375)],
                      "return": [(90_000, 168.0), (1_090_000, 724.0)]}
    figures = tfevents().summary(series["alpha"])
    assert (figures["first"], figures["median"], figures["min"], figures["last"]) == (0.5, 0.375, 0.25, 0.375)
    assert figures["median_second_half"] == pytest.approx((0.25 + 0.375) / 2)
