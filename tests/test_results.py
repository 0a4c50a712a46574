"""The trained runs shipped in results/: each loads, matches its family, and carries its curve
and the commands that made it (``python -m pearlkit evaluate results/<family>`` on a fresh clone)."""
import csv
import importlib.util
import json
from pathlib import Path

import pytest

import pearlkit
from pearlkit.cli import default_run_dir, train_command, training_commands
from pearlkit.config import LOCOMOTION_FAST, PearlConfig, budget_allows
from pearlkit.evaluate import EVALUATION_SEEDS, SWEEP_EVALUATION_SEEDS, changed_figures, evaluate_seeds
from pearlkit.run_cache import BOOK_RUNS, SHIPPED_AS, recorded_evaluation

RESULTS = Path(__file__).parents[1] / "results"
SHIPPED = sorted(p.name for p in RESULTS.iterdir() if p.name != "sweeps") if RESULTS.is_dir() else []
#: What each folder was trained from: (preset, overrides). The chapters' navigation agents are
#: run_cache.BOOK_RUNS entries, shipped under run_cache.SHIPPED_AS.
TRAINED_FROM = {**{family: (family, {}) for family in LOCOMOTION_FAST},
                **{folder: BOOK_RUNS[name] for name, folder in SHIPPED_AS.items()}}
SWEEPS = sorted(p.name for p in (RESULTS / "sweeps").iterdir()) if (RESULTS / "sweeps").is_dir() else []
#: Every run of a shipped sweep, as ``sweep/run``.
SWEEP_RUNS = sorted(f"{p.parent.name}/{p.name}" for p in (RESULTS / "sweeps").glob("*/*") if (p / "config.json").exists())


def test_every_family_and_only_those_is_shipped():
    # Issue #4: every family has a result folder with its curve, however far it got; so do the
    # navigation agents of chapters 2 and 5.
    assert set(SHIPPED) == set(TRAINED_FROM), f"shipped {SHIPPED}, expected {sorted(TRAINED_FROM)}"


@pytest.mark.parametrize("family", SHIPPED)
def test_shipped_result_loads_and_documents_itself(family):
    folder = RESULTS / family
    assert {"config.json", "progress.csv", "agent.pt", "README.md"} <= {p.name for p in folder.iterdir()}
    assert (folder / "agent.pt").stat().st_size < 5_000_000  # a small checkpoint, not the replay buffers
    agent, config, iteration = pearlkit.load_agent(folder, device="cpu")
    preset_name, overrides = TRAINED_FROM[family]
    preset = pearlkit.get_preset(preset_name)
    family_id = lambda env_id: env_id.rsplit("-v", 1)[0]
    assert family_id(config.env_id) == family_id(preset.env_id)
    readme = (folder / "README.md").read_text()
    if config.env_id != preset.env_id:  # trained before the environment's last fix
        assert f"`{config.env_id}`" in readme and f"`{preset.env_id}`" in readme
    assert all(config.to_dict()[key] == value for key, value in overrides.items())
    rows = list(csv.DictReader((folder / "progress.csv").open()))
    assert int(rows[-1]["iteration"]) == iteration
    written = json.loads((folder / "config.json").read_text())
    as_json = json.loads(config.to_json())
    assert written == {k: v for k, v in as_json.items() if k in written}
    # A field added to PearlConfig after the run was trained holds its default (what the run had).
    defaults = PearlConfig().to_dict()
    assert all(config.to_dict()[k] == defaults[k] for k in set(as_json) - set(written))
    readme = (folder / "README.md").read_text()
    # Its commands, run today, build the config it shipped with: a preset changed since must not
    # leave a README whose command trains something else.
    out = default_run_dir(family, config.seed)
    versions = json.loads((folder / "versions.json").read_text()) if (folder / "versions.json").exists() else {}
    commands = training_commands(config, versions, preset_name, out) or [train_command(config, preset_name, out=out)]
    for command in commands:
        assert f" {command}\n" in readme, f"{family}/README.md lacks `{command}`"
    # Going on with it: where that would train past the shipped iteration, how to stop there.
    resume = ship_result().resume_line(str(out), rows[-1], config)
    assert f"\n{resume}\n" in readme
    goes_past = config.num_iterations > iteration and budget_allows(config, int(rows[-1]["env_steps"]), iteration)
    assert (f"--set num_iterations={iteration} " in resume) == (goes_past and config.lr_schedule == "constant")


def ship_result():
    """``scripts/ship_result.py`` as a module: the README rows it writes from ``evaluation.json``."""
    spec = importlib.util.spec_from_file_location("ship_result", RESULTS.parent / "scripts" / "ship_result.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_gives_cpu_time_only_where_the_whole_run_counted_it():
    cpu_time_row = ship_result().cpu_time_row
    row = cpu_time_row({"seconds": "9000.0", "cpu_seconds": "3600.0"})
    assert row == "| training CPU time | 1.00 h (3600 s: the time the run computed, whatever shared its cores) |\n"
    assert cpu_time_row({"seconds": "9000.0", "cpu_seconds": ""}) == ""  # resumed from an older checkpoint
    assert cpu_time_row({"seconds": "9000.0"}) == ""  # trained before the column


def test_the_readme_says_when_the_env_step_budget_ended_the_run():
    iterations_row = ship_result().iterations_row
    config = pearlkit.get_preset("cheetah-fwd-back")  # 249 iterations of 10,000 to 10,600 env steps
    assert config.num_iterations == 249 and config.env_step_budget == 2_500_000
    assert iterations_row({"iteration": "249", "env_steps": "2489000"}, config) == "| iterations | 249 of 249 |\n"
    assert iterations_row({"iteration": "239", "env_steps": "2493000"}, config) == (
        "| iterations | 239 of 249 (its budget of 2,500,000 env steps ended it: another iteration could have "
        "collected past it) |\n")
    # shipped while it still trains: the budget allows the next iteration
    assert iterations_row({"iteration": "211", "env_steps": "2198400"}, config) == "| iterations | 211 of 249 |\n"
    unbounded = config.replace(env_step_budget=None)
    assert iterations_row({"iteration": "192", "env_steps": "2489000"}, unbounded) == "| iterations | 192 of 249 |\n"


def test_the_readme_says_what_its_commands_give():
    how_trained = ship_result().how_trained
    assert how_trained(["train"]).endswith("continues with `train --resume`")
    assert "train it again as it was trained" in how_trained(["train", "resume with a change"])
    assert "the first command gives its last config" in how_trained(None)  # resumes that did not record what they replaced


def test_the_readme_says_which_resumes_went_on_from_the_weights_alone():
    machines = ship_result().machines
    versions = {"cpu": "A", "resumed": [{"iteration": 3, "cpu": "B", "changed": {"num_iterations": 9},
                                         "was": {"num_iterations": 3}},
                                        {"iteration": 5, "cpu": "B", "from_weights": True}]}
    assert machines(versions) == ("A; resumed at iteration 3 on B, changing num_iterations=9; resumed at iteration 5 "
                                  "from its weights alone (replay buffers refilled, optimizers fresh) on B")


def test_the_readme_names_the_number_format_where_versions_recorded_it():
    machines = ship_result().machines
    versions = {"cpu": "A", "precision": "float32",
                "resumed": [{"iteration": 3, "cpu": "A"}, {"iteration": 5, "cpu": "C", "precision": "bfloat16"}]}
    assert machines(versions) == ("A, in float32; resumed at iteration 3 on A; "
                                  "resumed at iteration 5 on C, in bfloat16")


def test_the_readme_says_how_the_run_shared_the_machine():
    wall_clock_row = ship_result().wall_clock_row
    shared = wall_clock_row({"seconds": "5400"}, {"cpu": "AMD EPYC 7B13 (2 cores)"})
    alone = wall_clock_row({"seconds": "1500"}, {"cpu": "Intel(R) Xeon(R) Processor (2 cores)"}, threads=2, alone=True)
    assert shared == "| training wall clock | 1.50 h (5400 s, one CPU thread, sharing AMD EPYC 7B13 (2 cores)) |\n"
    assert alone == ("| training wall clock | 0.42 h (1500 s, 2 CPU threads, alone on Intel(R) Xeon(R) Processor "
                     "(2 cores)) |\n")
    # A run trained before versions.json recorded its CPU: not the CPU of the machine that ships it.
    assert "sharing a machine whose CPU the run did not record" in wall_clock_row({"seconds": "60"}, {})
    # A run that spanned sessions names every machine, and what each resume changed.
    resumed = wall_clock_row({"seconds": "60"}, {"cpu": "A (2 cores)", "resumed": [
        {"iteration": 42, "cpu": "B (2 cores)", "gpu": "G"},
        {"iteration": 90, "cpu": "A (2 cores)", "changed": {"precision": "bfloat16"}}]})
    assert resumed == ("| training wall clock | 0.02 h (60 s, one CPU thread, sharing A (2 cores); resumed at iteration 42 "
                       "on B (2 cores) with G; resumed at iteration 90 on A (2 cores), changing precision=bfloat16) |\n")


@pytest.mark.parametrize("name", SHIPPED)
def test_readme_quotes_the_recorded_evaluation(name):
    folder = RESULTS / name
    record = recorded_evaluation(folder)
    assert record["seeds"] == list(EVALUATION_SEEDS)
    assert len(record["by_seed"]) == len(EVALUATION_SEEDS)
    assert record["by_seed"][0]["iteration"] == pearlkit.load_agent(folder, device="cpu")[2]
    config = PearlConfig.from_file(folder / "config.json")
    assert ship_result().evaluation_rows(record, config) in (folder / "README.md").read_text()


@pytest.mark.parametrize("family", sorted(set(SHIPPED) & set(LOCOMOTION_FAST)))
def test_a_mujoco_result_carries_its_film(family):
    # Chapter 6 shows these instead of filming for a minute per family as the book builds.
    from pearlkit.envs import make_env
    from pearlkit.render import FILM_FILE, FILM_RECORD, tasks_to_film

    folder = RESULTS / family
    record = json.loads((folder / FILM_RECORD).read_text())
    config = PearlConfig.from_file(folder / "config.json")
    describe = type(make_env(config.env_id)).describe_task
    assert record["tasks"] == [describe(task) for task in tasks_to_film(config)]
    assert len(record["returns"]) == len(record["tasks"])
    assert 100_000 < (folder / FILM_FILE).stat().st_size < 4_000_000


@pytest.mark.shipped
@pytest.mark.parametrize("name", SHIPPED + [f"sweeps/{run}" for run in SWEEP_RUNS])
def test_recorded_figures_still_come_out(name):
    # CI re-evaluates every shipped agent, and every run of a shipped sweep, at the recorded seeds:
    # a change to an environment, the agent or the meta-test that moves a figure its README or
    # chapter 7's seed tables quote fails here.
    folder = RESULTS / name
    recorded = recorded_evaluation(folder)
    measured = evaluate_seeds(folder, recorded["seeds"], device="cpu")
    assert changed_figures(recorded, measured) == []


#: The families meta-tested on 2 tasks: their recorded figure rests on 4 runs a seed.
TWO_TASK = [f for f in SHIPPED if f in LOCOMOTION_FAST and LOCOMOTION_FAST[f].num_test_tasks == 2]


@pytest.mark.shipped
@pytest.mark.parametrize("family", TWO_TASK)
def test_a_two_task_agent_still_does_its_task_over_40_runs(family):
    # At 4 runs a seed one bad pair of runs moves a seed's figure by hundreds, so the recorded mean's
    # tolerance (four standard errors over the seeds) can span what idle motors score (the ant's
    # does). 20 runs of each task at one seed still tell an agent that does its task from one that no
    # longer does: they must keep at least half of the recorded mean's lead over idle motors.
    from pearlkit.evaluate import held_out_meta_test, zero_action_return

    folder = RESULTS / family
    floor = zero_action_return(PearlConfig.from_file(folder / "config.json"))
    recorded = recorded_evaluation(folder)["mean"]["return_after_exploration"]
    assert recorded > floor
    # Seed 2: a seed that did not choose the shipped ant among its run's copies (0 and 1 did).
    tested = held_out_meta_test(folder, seed=2, runs_per_task=20, device="cpu").result
    after = tested.returns[:, tested.num_exp_traj_eval].mean().item()
    assert after > floor + (recorded - floor) / 2, f"{after:.1f} over 40 runs; idle motors {floor:.1f}"


@pytest.mark.parametrize("name", SWEEPS)
def test_shipped_sweep_is_a_sweep_folder_whose_runs_load(name):
    from pearlkit.report import load_presets
    from pearlkit.run_cache import shipped_sweep
    from pearlkit.sweep import read_manifest

    folder = shipped_sweep(name)
    assert folder.resolve() == (RESULTS / "sweeps" / name).resolve()
    trials = read_manifest(folder)
    assert trials
    for trial in trials:  # agents and curves only: the replay buffers stay behind
        assert not (trial["run_dir"] / "checkpoint.pt").exists()
        config = PearlConfig.from_file(trial["run_dir"] / "config.json")
        assert config.seed == trial["seed"]
        _, _, iteration = pearlkit.load_agent(trial["run_dir"], device="cpu")
        assert iteration == config.num_iterations  # finished runs
        recorded = recorded_evaluation(trial["run_dir"])  # what chapter 7 tables
        assert recorded["seeds"] == list(SWEEP_EVALUATION_SEEDS) and len(recorded["by_seed"]) == len(recorded["seeds"])
        assert all(e["iteration"] == iteration for e in recorded["by_seed"])  # of this agent, not an earlier one
    assert [r.preset for r in load_presets(folder)] == sorted({t["preset"] for t in trials})
    assert (folder / "report" / "report.md").exists()


def test_a_sweep_that_is_not_shipped_is_named():
    from pearlkit.run_cache import shipped_sweep

    with pytest.raises(FileNotFoundError, match="no shipped sweep 'nowhere'"):
        shipped_sweep("nowhere")


def test_every_published_figure_says_which_trajectories_it_measures():
    """Chapter 7 notes, under its table, what each reproduction's figure is the return of, by the
    source's repository: a new source without a note would be read as our own measure."""
    from pearlkit.report import PUBLISHED_MEASURES, PUBLISHED_RETURNS, PUBLISHED_RUN_TIMES, published_source
    sources = {published_source(family) for family in PUBLISHED_RETURNS}
    assert sources == set(PUBLISHED_MEASURES) == set(PUBLISHED_RUN_TIMES)  # and how long each trained


def test_every_family_has_a_published_figure_or_says_why_not():
    """Chapter 7's reproduction column: a figure with its source, or a note under the table on why
    there is none; never a family left with neither, or with both."""
    from pearlkit.config import LOCOMOTION_FAST
    from pearlkit.report import PUBLISHED_RETURNS, WITHOUT_REPRODUCTION
    assert set(PUBLISHED_RETURNS) | set(WITHOUT_REPRODUCTION) == set(LOCOMOTION_FAST)
    assert not set(PUBLISHED_RETURNS) & set(WITHOUT_REPRODUCTION)
