"""How much learning each locomotion preset buys per environment step, against the reference
code's preset: transitions through the critic (gradient steps x tasks per step x transitions
per task) per environment step collected, and over a whole run. Arithmetic on the configs
only; nothing is trained or timed.

    python benchmarks/critic_budget.py

On a CPU a gradient step costs about in proportion to its transitions (the matrix products are
most of it: ``step_speed.py --profile``), so the last column is roughly how many times longer
than its preset a run would take to match the reference's learning per environment step at
the preset's network size. The last line is one JSON object.
"""
from __future__ import annotations

import json

from pearlkit.config import LOCOMOTION_FAST, LOCOMOTION_PAPER, PearlConfig, env_steps_per_iteration


def critic_transitions_per_iteration(config: PearlConfig) -> int:
    """Transitions one iteration's gradient steps put through the critic."""
    return config.num_train_steps_per_itr * config.meta_batch * config.batch_size


def main() -> None:
    figures = {}
    print(f"{'family':18s} {'reference /env step':>19s} {'preset /env step':>16s} "
          f"{'preset, whole run':>17s} {'reference / preset':>18s}")
    for family, preset in LOCOMOTION_FAST.items():
        paper = LOCOMOTION_PAPER[family]
        per_step = {"reference": critic_transitions_per_iteration(paper) / env_steps_per_iteration(paper),
                    "preset": critic_transitions_per_iteration(preset) / env_steps_per_iteration(preset)}
        whole_run = critic_transitions_per_iteration(preset) * preset.num_iterations
        figures[family] = {**{k: round(v, 1) for k, v in per_step.items()}, "preset_whole_run": whole_run,
                           "ratio": round(per_step["reference"] / per_step["preset"], 1)}
        print(f"{family:18s} {per_step['reference']:19.0f} {per_step['preset']:16.0f} "
              f"{whole_run / 1e6:15.0f} M {figures[family]['ratio']:17.1f}x")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
