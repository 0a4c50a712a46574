"""What a sweep reached, with intervals that hold up: ``python -m pearlkit report DIR``.

Per preset: the return (and success, for navigation) at the end of training, the mean over
seeds with a 95% bootstrap confidence interval, and the learning curves with bands. Across
presets: the interquartile mean (IQM) of normalized scores with stratified bootstrap intervals,
and a performance profile. The statistics come from ``rliable`` (Agarwal et al., 2021), an
optional dependency (``pip install -e ".[sweep]"``); only the bookkeeping is written here.

Normalized score: 0 is what the same held-out tasks score with zero actions, 1 the published
figure of the family (:data:`PUBLISHED_RETURNS`) or, for navigation, the oracle's return.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pearlkit.config import PearlConfig
from pearlkit.envs import is_navigation
from pearlkit.envs.point_nav import oracle_return
from pearlkit.evaluate import SWEEP_EVALUATION_SEEDS, zero_action_return
from pearlkit.plots import new_figure
from pearlkit.sweep import read_manifest
from pearlkit.training import read_progress

RETURN, SUCCESS = "eval/return_after_exploration", "eval/success_rate"
REPORTED_SUCCESS = "eval/reported_success"  #: the reference's number: the last meta-test trajectory
CONFIDENCE = 0.95
#: Published returns after exploration per family: (return, environment steps, source).
PUBLISHED_RETURNS: dict[str, tuple[float, float, str]] = {
    "cheetah-vel": (-37.0, 0.78e6, "x35f/meta_rl, PyTorch on a GPU"),
    "cheetah-fwd-back": (1674.0, 1.44e6, "x35f/meta_rl, PyTorch on a GPU"),
    "ant-fwd-back": (1057.0, 2.0e6, "x35f/meta_rl, PyTorch on a GPU"),
    "walker-2d-params": (724.0, 1.09e6, "x35f/meta_rl, PyTorch on a GPU"),
    "humanoid-dir-2d": (1008.0, 1.67e6, "an oyster run in ZiyiLiubird/CRL, on a GPU"),
}
#: What each published figure is the return of, by the run's repository (the source's first part):
#: read it against the column of ours that measures the same trajectory.
PUBLISHED_MEASURES: dict[str, str] = {
    "x35f/meta_rl": "the mean of 5 trajectories after 2 exploring ones, the belief updated after each (its "
                    "`pearl/trainer.py`, `evaluate`: `performance/eval_return`). Closest to our return after "
                    "exploration, which is the one trajectory after 2; its later trajectories have more context.",
    "an oyster run in ZiyiLiubird/CRL": "the reference code's number, the last trajectory of a 600-step meta-test: "
                                        "our reported number.",
}
#: How long each source's published run trained (the whole run, on its hardware), by its repository:
#: x35f/meta_rl's README; the CRL run's ``progress.csv`` (``Total Train Time (s)`` 114,904 at its last epoch).
PUBLISHED_RUN_TIMES: dict[str, str] = {
    "x35f/meta_rl": "about 10.5 h a run on a GPU",
    "an oyster run in ZiyiLiubird/CRL": "31.9 h on a GPU",
}
#: Where a published run's tasks were not the family's: what they were instead.
PUBLISHED_CAVEATS: dict[str, str] = {
    "ant-fwd-back": "x35f/meta_rl's `ant-dir` environment defaults to `forward_backward=False` and its `main.py` does "
                    "not pass it, so its two tasks were directions drawn at random (164.9° and 111.0° at its default "
                    "seed, 35), not forward and backward: a gait toward the angle between them scores in both, and "
                    "its exploration trajectories, with z from the prior, scored nearly what its trajectories after "
                    "exploration did. Its figure is for an easier pair of tasks than ours.",
}
#: The families no reproduction has published a figure for: what is known of them instead, with sources.
WITHOUT_REPRODUCTION: dict[str, str] = {
    "ant-goal-2d": "No reproduction that we know of has published a figure for this family, and since 22 May 2020 "
                   "the reference code's own README has said that its ant-goal experiment is not reproduced "
                   "correctly. A user who trained the six families with that code found five comparable with the "
                   "paper, but a best Ant-Goal-2D return of about −440 where the paper shows about −200 "
                   "([katerakelly/oyster, issue 28](https://github.com/katerakelly/oyster/issues/28)); a reply there "
                   "reads the paper's Ant-Goal-2D panel as spanning about 10 M environment steps, where the other "
                   "panels span about 1 M.",
}
#: Gradient steps behind each published figure, each of 16 tasks x 256 transitions: the
#: x35f/meta_rl runs' epochs by then (from the environment steps they log and their schedule:
#: ``benchmarks/critic_curves.py``) times their steps per epoch; the oyster run's own count.
PUBLISHED_GRADIENT_STEPS: dict[str, int] = {
    "cheetah-vel": 116 * 2000,
    "cheetah-fwd-back": 180 * 2000,
    "ant-fwd-back": 500 * 400,
    "walker-2d-params": 101 * 4000,
    "humanoid-dir-2d": 1_108_000,
}
PUBLISHED_TRANSITIONS_PER_STEP = 16 * 256


def published_source(family: str) -> str:
    """The repository ``family``'s published figure comes from: its source's first part, the key
    of :data:`PUBLISHED_MEASURES` (``"x35f/meta_rl"``)."""
    return PUBLISHED_RETURNS[family][2].split(",")[0]


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its confidence interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


@dataclass(frozen=True)
class PresetResult:
    """One preset's runs: the final scores per seed and the curves."""

    preset: str
    seeds: list[int]
    final_return: np.ndarray  #: ``(num_seeds,)``, the last evaluation of each run
    final_success: np.ndarray | None  #: same, navigation only
    final_reported_success: np.ndarray | None  #: same, at the reference's last trajectory
    curve_iterations: np.ndarray  #: iterations evaluated in every run
    curves: np.ndarray  #: ``(num_seeds, len(curve_iterations))`` return after exploration
    config: PearlConfig


def last_evaluation(rows: list[dict[str, str]], key: str) -> float | None:
    """The value of ``key`` in the last row that has one (None if the run never evaluated it)."""
    values = [row[key] for row in rows if row.get(key) not in (None, "")]
    return float(values[-1]) if values else None


def load_presets(sweep_dir: str | Path) -> list[PresetResult]:
    """Group the sweep's run folders by preset and read each one's progress.

    Raises:
        ValueError: a run that has not evaluated yet (it has nothing to report).
    """
    by_preset: dict[str, list[tuple[int, Path]]] = {}
    for trial in read_manifest(sweep_dir):
        by_preset.setdefault(trial["preset"], []).append((trial["seed"], trial["run_dir"]))
    results = []
    for preset, runs in by_preset.items():
        progress = {seed: read_progress(run_dir) for seed, run_dir in runs if (run_dir / "progress.csv").exists()}
        finals = {seed: last_evaluation(rows, RETURN) for seed, rows in progress.items()}
        missing = sorted(str(run_dir) for seed, run_dir in runs if finals.get(seed) is None)
        if missing:
            raise ValueError(f"runs {missing} have no evaluation yet; report them once they have evaluated")
        seeds = sorted(progress)
        successes = [last_evaluation(progress[seed], SUCCESS) for seed in seeds]
        reported = [last_evaluation(progress[seed], REPORTED_SUCCESS) for seed in seeds]
        evaluated = [{int(r["iteration"]): float(r[RETURN]) for r in progress[seed] if r[RETURN]} for seed in seeds]
        common = sorted(set.intersection(*(set(e) for e in evaluated)))
        results.append(PresetResult(
            preset, seeds, np.array([finals[s] for s in seeds]),
            np.array(successes) if None not in successes else None,
            np.array(reported) if None not in reported else None,
            np.array(common), np.array([[e[i] for i in common] for e in evaluated]),
            PearlConfig.from_file(runs[0][1] / "config.json")))
    return results


def _rliable():
    # rliable hands arch a RandomState, which arch now warns about on every bootstrap.
    warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
    try:
        from rliable import library, metrics, plot_utils
    except ImportError:
        raise ImportError('the report\'s statistics come from rliable, an optional dependency: '
                          'pip install -e ".[sweep]"') from None
    return library, metrics, plot_utils


def mean_with_interval(scores: np.ndarray, reps: int = 5000, seed: int = 0) -> Estimate:
    """Mean over runs of ``scores`` ``(num_runs,)``, with rliable's percentile bootstrap interval."""
    rly, _, _ = _rliable()

    point, interval = rly.get_interval_estimates({"x": scores[:, None]}, lambda s: np.array([s.mean()]),
                                                 reps=reps, confidence_interval_size=CONFIDENCE,
                                                 random_state=np.random.RandomState(seed))
    return Estimate(float(point["x"][0]), float(interval["x"][0, 0]), float(interval["x"][1, 0]))


def normalization(result: PresetResult) -> tuple[float, float] | None:
    """(zero-action score, reference score) of a preset, or None where no reference is published."""
    family = result.preset.removesuffix("-paper")
    floor = zero_action_return(result.config)
    if is_navigation(result.config.env_id):
        _, test_tasks = result.config.split_tasks()
        return floor, oracle_return(np.array([task["goal"] for task in test_tasks]))
    if family in PUBLISHED_RETURNS:
        return floor, PUBLISHED_RETURNS[family][0]
    return None


def normalized_scores(results: list[PresetResult]) -> tuple[list[str], np.ndarray]:
    """The presets that have a reference and their normalized final scores ``(num_seeds, num_presets)``,
    over the seeds every one of them has."""
    scored = [(r, normalization(r)) for r in results]
    scored = [(r, n) for r, n in scored if n is not None]
    if not scored:
        return [], np.zeros((0, 0))
    seeds = sorted(set.intersection(*(set(r.seeds) for r, _ in scored)))
    columns = [(r.final_return[[r.seeds.index(s) for s in seeds]] - low) / (high - low) for r, (low, high) in scored]
    return [r.preset for r, _ in scored], np.stack(columns, axis=1)


def aggregate(scores: np.ndarray, reps: int = 5000, seed: int = 0) -> Estimate:
    """IQM over runs and presets of normalized ``scores`` ``(num_runs, num_presets)``, with
    rliable's stratified bootstrap interval (runs resampled within each preset)."""
    rly, metrics, _ = _rliable()
    point, interval = rly.get_interval_estimates({"x": scores}, lambda s: np.array([metrics.aggregate_iqm(s)]),
                                                 reps=reps, confidence_interval_size=CONFIDENCE,
                                                 random_state=np.random.RandomState(seed))
    return Estimate(float(point["x"][0]), float(interval["x"][0, 0]), float(interval["x"][1, 0]))


def plot_curves(results: list[PresetResult], reps: int = 2000):
    """One panel per preset: the mean return after exploration over seeds, with its 95% band."""
    fig, axes = new_figure(min(3.6 * len(results), 7.6), 2.8, columns=len(results))  # at most the page's width
    for ax, result in zip(axes[0], results):
        estimates = [mean_with_interval(result.curves[:, j], reps) for j in range(len(result.curve_iterations))]
        steps = result.curve_iterations
        ax.plot(steps, [e.value for e in estimates], color="tab:blue")
        ax.fill_between(steps, [e.low for e in estimates], [e.high for e in estimates], color="tab:blue", alpha=0.2)
        ax.set(title=f"{result.preset} ({len(result.seeds)} seeds)", xlabel="iteration")
    axes[0, 0].set_ylabel("return after exploration\n(mean, 95% bootstrap band)")
    return fig


def plot_profile(scores: np.ndarray, reps: int = 2000, seed: int = 0):
    """rliable's performance profile: the share of runs whose normalized score exceeds tau."""
    rly, _, plot_utils = _rliable()
    taus = np.linspace(min(0.0, scores.min()), max(1.0, scores.max()), 81)
    np.random.seed(seed)  # create_performance_profile draws from NumPy's global stream
    profiles, intervals = rly.create_performance_profile({"pearlkit": scores}, taus, reps=reps)
    fig, axes = new_figure(5.0, 3.2)
    plot_utils.plot_performance_profiles(profiles, taus, performance_profile_cis=intervals, ax=axes[0, 0],
                                         colors={"pearlkit": "tab:blue"}, xlabel="normalized score τ",
                                         ylabel="share of runs above τ")
    return fig


def report(sweep_dir: str | Path, out: str | Path | None = None, reps: int = 5000, title: str | None = None) -> str:
    """Write ``report.md``, ``curves.png`` and (with a reference for some preset) ``profile.png``
    into ``out`` (default ``SWEEP_DIR/report``); return the Markdown, headed by ``title``
    (default: the sweep folder's path)."""
    out = Path(out) if out is not None else Path(sweep_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    results = load_presets(sweep_dir)
    title = title or str(sweep_dir)
    lines = [f"# Sweep report: {title}", "",
             f"Mean over seeds at the last evaluation of training (each run's `progress.csv`, made with the "
             f"config it trained under), with {CONFIDENCE:.0%} percentile bootstrap intervals ({reps} resamples, "
             f"rliable). `python -m pearlkit evaluate RUN_DIR --seeds "
             f"{SWEEP_EVALUATION_SEEDS[0]}-{SWEEP_EVALUATION_SEEDS[-1]}` measures an agent as its folder holds it now.",
             "",
             "| preset | seeds | return after exploration | success rate | success, last trajectory "
             "(the reference's number) |", "|---|---|---|---|---|"]
    estimate = lambda scores: str(mean_with_interval(scores, reps)) if scores is not None else ""
    for result in results:
        lines.append(f"| {result.preset} | {', '.join(map(str, result.seeds))} | "
                     f"{estimate(result.final_return)} | {estimate(result.final_success)} | "
                     f"{estimate(result.final_reported_success)} |")
    plot_curves(results).savefig(out / "curves.png", dpi=110)
    lines += ["", "![learning curves](curves.png)", ""]
    presets, scores = normalized_scores(results)
    if presets:
        lines += [f"Across {', '.join(presets)} ({scores.shape[0]} seeds each): IQM of the normalized score "
                  f"{aggregate(scores, reps)} (stratified bootstrap; 0 = zero actions, 1 = the published figure, "
                  f"or the oracle for navigation).", "", "![performance profile](profile.png)"]
        plot_profile(scores).savefig(out / "profile.png", dpi=110)
    markdown = "\n".join(lines) + "\n"
    (out / "report.md").write_text(markdown)
    return markdown
