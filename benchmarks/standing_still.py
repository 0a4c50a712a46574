"""What a policy that does nothing scores on each MuJoCo family: the floor a learning curve must
rise above before it means anything.

    python benchmarks/standing_still.py

For each ``<family>`` preset, :func:`pearlkit.evaluate.zero_action_return`: one trajectory per
held-out task with zero actions, as long as meta-test's. Its last line is one JSON object.
"""
from __future__ import annotations

import json

from pearlkit.config import LOCOMOTION_FAST
from pearlkit.evaluate import zero_action_return


def main() -> None:
    scores = {}
    for family, config in LOCOMOTION_FAST.items():
        scores[family] = round(zero_action_return(config), 1)
        print(f"{family:18s} {scores[family]:9.1f}  (zero actions, held-out tasks)")
    print(json.dumps(scores))


if __name__ == "__main__":
    main()
