"""Read a published run's TensorBoard event file (no TensorFlow or TensorBoard needed) and
summarise its scalars: how the reproductions chapter 7 compares with learned, in their own logs.

    python benchmarks/tfevents_summary.py EVENTS_FILE                      # every tag, first and last value
    python benchmarks/tfevents_summary.py EVENTS_FILE --tags misc/entropy_alpha performance/eval_return

The event files are not in this repository; x35f/meta_rl keeps one per family under
``results/pearl/<family>/`` (``git clone`` it where the internet is reachable). For each tag
asked for: the number of points, the first, median, minimum, maximum and last value, the median
over the second half of the run, and the value at every tenth point with its step (the
environment steps collected, in x35f/meta_rl's logs). The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import struct
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """Protocol Buffers' variable-length integer at ``at``: its value and the next offset."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _fields(message: bytes) -> Iterator[tuple[int, bytes | int]]:
    """The (field number, raw value) pairs of one Protocol Buffers message."""
    at = 0
    while at < len(message):
        key, at = _varint(message, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(message, at)
        elif wire == 1:
            value, at = message[at:at + 8], at + 8
        elif wire == 5:
            value, at = message[at:at + 4], at + 4
        elif wire == 2:
            length, at = _varint(message, at)
            value, at = message[at:at + length], at + length
        else:
            raise ValueError(f"unsupported Protocol Buffers wire type {wire}")
        yield number, value


def scalars(path: Path) -> dict[str, list[tuple[int, float]]]:
    """Tag -> [(step, value)] of every ``simple_value`` scalar in a TFRecord event file
    (``Event``: step is field 2, the summary field 5; ``Summary.Value``: tag 1, simple_value 2)."""
    data, at, series = path.read_bytes(), 0, defaultdict(list)
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at:at + 8])
        record = data[at + 12:at + 12 + length]  # after the length and its CRC
        at += 12 + length + 4  # and the record's CRC
        step, values = 0, []
        for number, value in _fields(record):
            if number == 2:
                step = value
            elif number == 5:
                for summary_field, entry in _fields(value):
                    if summary_field != 1:
                        continue
                    parts = dict(_fields(entry))
                    if 1 in parts and 2 in parts:
                        values.append((parts[1].decode(), struct.unpack("<f", parts[2])[0]))
        for tag, value in values:
            series[tag].append((step, value))
    return dict(series)


def summary(points: list[tuple[int, float]]) -> dict:
    """The figures printed for one tag."""
    values = [value for _, value in points]
    return {"points": len(values), "first": values[0], "median": statistics.median(values), "min": min(values),
            "max": max(values), "last": values[-1], "median_second_half": statistics.median(values[len(values) // 2:]),
            "every_tenth": points[::max(1, len(points) // 10)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--tags", nargs="+", default=None, help="tags to summarise (default: list every tag)")
    args = parser.parse_args()
    series = scalars(args.events)
    if args.tags is None:
        for tag, points in series.items():
            print(f"{tag}: {len(points)} points, first {points[0]}, last {points[-1]}")
        return
    missing = [tag for tag in args.tags if tag not in series]
    if missing:
        raise SystemExit(f"error: {args.events} has no tag {missing}; it has {sorted(series)}")
    out = {}
    for tag in args.tags:
        out[tag] = summary(series[tag])
        figures = out[tag]
        print(f"{tag}: {figures['points']} points; first {figures['first']:.4g}, median {figures['median']:.4g} "
              f"(second half {figures['median_second_half']:.4g}), range {figures['min']:.4g} to "
              f"{figures['max']:.4g}, last {figures['last']:.4g}")
        print("  " + ", ".join(f"{step:,}: {value:.4g}" for step, value in figures["every_tenth"]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
