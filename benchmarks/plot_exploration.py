"""Draw a trained run's meta-test on held-out goals: what exploration finds, what follows.

    python benchmarks/plot_exploration.py RUN_DIR OUT.png [--seed 0] [--online-posterior]
"""
from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")


from pearlkit.checkpoint import load_agent  # noqa: E402
from pearlkit.evaluate import meta_test  # noqa: E402
from pearlkit.plots import plot_navigation_meta_test  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--online-posterior", action="store_true")
    args = parser.parse_args()
    agent, config, iteration = load_agent(args.run_dir)
    _, test_tasks = config.split_tasks()
    protocol = config.replace(num_steps_per_eval=(config.num_exp_traj_eval + 3) * config.max_path_length)
    result = meta_test(agent, test_tasks, protocol, seed=args.seed, online_posterior=args.online_posterior)
    fig = plot_navigation_meta_test(result, test_tasks)
    fig.suptitle(f"{args.run_dir} (iteration {iteration}): blue = exploration, red = first trajectory after",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(args.out)


if __name__ == "__main__":
    main()
