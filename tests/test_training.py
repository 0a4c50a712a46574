"""Runs as a whole: the run folder, determinism, resume after SIGKILL, divergence, errors, CLI."""
import csv
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

import pearlkit
import pearlkit.cli
import pearlkit.pearl as pearl
import pearlkit.training as training
from pearlkit.checkpoint import SHIPPED_FILES, load_agent, load_checkpoint, recorded_precision, signal_raises
from pearlkit.cli import main as cli_main
from pearlkit.cli import train_command, training_commands, with_overrides
from pearlkit.config import PearlConfig
from pearlkit.evaluate import held_out_meta_test, meta_test, summarize
from pearlkit.pearl import TrainingDiverged
from tests.conftest import bfloat16_anywhere, tiny_ant_goal_config, tiny_config

TINY_SET = [f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
            for k, v in tiny_config().to_dict().items() if k != "env_id"]


def rows(run_dir):
    with open(Path(run_dir) / "progress.csv") as file:
        return list(csv.DictReader(file))


TIME_COLUMNS = ("seconds", "cpu_seconds")


def without_time(progress_rows):
    return [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in progress_rows]


def test_run_folder_contents(tmp_path):
    result = pearlkit.train(tiny_config(), tmp_path / "run", progress=False)
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert names == {"config.json", "progress.csv", "versions.json", "agent.pt", "checkpoint.pt"}
    assert PearlConfig.from_dict(json.loads((tmp_path / "run" / "config.json").read_text())) == tiny_config()
    assert json.loads((tmp_path / "run" / "versions.json").read_text())["cpu"] == pearlkit.runtime.cpu_name()
    progress = rows(tmp_path / "run")
    assert [r["iteration"] for r in progress] == ["1", "2"]
    for key in ("env_steps", *TIME_COLUMNS, "eval/return_after_exploration", "eval/success_rate", "train/q_loss"):
        assert progress[-1][key] != "", key
    assert result["iteration"] == 2 and 0 <= result["eval/success_rate"] <= 1


def test_same_seed_same_numbers_and_another_seed_differs():
    first = training.train(tiny_config(), progress=False)
    second = training.train(tiny_config(), progress=False)
    other = training.train(tiny_config(seed=1), progress=False)
    strip = lambda r: {k: v for k, v in r.items() if k not in (*TIME_COLUMNS, "agent", "last_eval")}
    assert strip(first) == strip(second)
    assert first["last_eval"] == second["last_eval"]
    for a, b in zip(first["agent"].parameters(), second["agent"].parameters()):
        assert torch.equal(a, b)
    assert strip(first) != strip(other)


def train_interrupted_after_two(config, run_dir):
    """Train ``config`` in ``run_dir``, stopped by Ctrl-C after iteration 2, then resumed to the end."""
    def interrupt_after_two(row):
        if row["iteration"] == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        pearlkit.train(config, run_dir, progress=False, on_iteration=interrupt_after_two)
    return pearlkit.train(config, run_dir, resume=True, progress=False)


@pytest.mark.parametrize("schedule, learned, critic_target", [
    ("constant", False, "v-bar"), ("linear", False, "v-bar"), ("constant", True, "v-bar"), ("constant", True, "q-bar")])
def test_resume_gives_the_same_run_as_no_interruption(tmp_path, schedule, learned, critic_target):
    # learned: a learned temperature is a weight of the agent and has Adam state like the others;
    # q-bar: the target Qs are weights of the agent too
    config = tiny_config(num_iterations=3, lr_schedule=schedule, learn_temperature=learned, critic_target=critic_target)
    straight = pearlkit.train(config, tmp_path / "a", progress=False)
    # the linear schedule follows num_iterations, so the interrupted run is one of 3 from the start
    resumed = train_interrupted_after_two(config, tmp_path / "b")
    assert without_time(rows(tmp_path / "a")) == without_time(rows(tmp_path / "b"))
    for a, b in zip(straight["agent"].parameters(), resumed["agent"].parameters()):
        assert torch.equal(a, b)
    temperatures = [r["train/temperature"] for r in rows(tmp_path / "b")]
    if learned:  # alpha starts at the config's temperature (1) and moves
        assert all(float(t) > 0 for t in temperatures) and float(temperatures[-1]) != 1.0
    else:
        assert not any(temperatures)
    if learned:  # and the agent file holds it: meta-test loads the same agent
        assert torch.equal(pearlkit.load_agent(tmp_path / "b")[0].log_temperature, resumed["agent"].log_temperature)


def test_a_resumed_mujoco_run_resets_its_environments_as_the_uninterrupted_one(tmp_path):
    # Each environment draws its start's noise from a stream of its own; a resume that started
    # those streams again gave another run from the first reset on (training's and meta-test's).
    config = tiny_ant_goal_config(num_iterations=3, eval_every=1, max_path_length=50, num_steps_per_eval=150)
    pearlkit.train(config, tmp_path / "a", progress=False)
    train_interrupted_after_two(config, tmp_path / "b")
    assert without_time(rows(tmp_path / "a")) == without_time(rows(tmp_path / "b"))


def test_a_resume_takes_the_new_learning_rates_and_keeps_adams_moments(tmp_path):
    pearlkit.train(tiny_config(num_iterations=1), tmp_path / "run", progress=False)
    encoder = lambda: {k: v for k, v in load_agent(tmp_path / "run")[0].state_dict().items() if k.startswith("encoder")}
    before = encoder()
    # context_lr about 0 holds the encoder still (a code the policy learns on that no longer moves)
    pearlkit.train(tiny_config(num_iterations=2, context_lr=1e-12, policy_lr=2e-4), tmp_path / "run",
                   resume=True, progress=False)
    assert all((before[k] - v).abs().max() < 1e-9 for k, v in encoder().items())
    checkpoint = load_checkpoint(tmp_path / "run" / training.CHECKPOINT_NAME, "cpu")
    critic, actor = checkpoint["critic_optimizer"], checkpoint["actor_optimizer"]
    qf_lr = tiny_config().qf_lr
    assert [group["initial_lr"] for group in critic["param_groups"]] == [qf_lr, qf_lr, 1e-12]
    assert actor["param_groups"][0]["initial_lr"] == 2e-4  # the policy's
    steps_per_iteration = tiny_config().num_train_steps_per_itr
    assert all(int(state["step"]) == 2 * steps_per_iteration for state in critic["state"].values())  # Adam went on


def test_cpu_seconds_count_work_not_waiting(tmp_path, monkeypatch):
    # A run paused or sharing its cores waits: its wall clock grows, its CPU time does not.
    iterate = training.meta_train_iteration
    def iterate_then_wait(*args, **kwargs):
        result = iterate(*args, **kwargs)
        time.sleep(0.5)
        return result
    monkeypatch.setattr(training, "meta_train_iteration", iterate_then_wait)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # with more threads, CPU time may outrun the wall clock
    try:
        pearlkit.train(tiny_config(), tmp_path / "run", progress=False)
    finally:
        torch.set_num_threads(threads)
    progress = rows(tmp_path / "run")
    seconds, cpu = [float(r["seconds"]) for r in progress], [float(r["cpu_seconds"]) for r in progress]
    assert 0 < cpu[0] < cpu[1] and seconds[1] - cpu[1] > 2 * 0.5 - 0.05


def test_cpu_seconds_carry_on_across_a_resume(tmp_path):
    pearlkit.train(tiny_config(num_iterations=1), tmp_path / "run", progress=False)
    pearlkit.train(tiny_config(num_iterations=2), tmp_path / "run", resume=True, progress=False)
    first, second = (float(r["cpu_seconds"]) for r in rows(tmp_path / "run"))
    assert 0 < first < second


def test_each_resume_records_its_iteration_machine_and_changed_fields(tmp_path):
    # A run spans sessions, and sessions land on other machines: versions.json says each one.
    pearlkit.train(tiny_config(num_iterations=1), tmp_path / "run", progress=False, device="cpu")
    pearlkit.train(tiny_config(num_iterations=2), tmp_path / "run", resume=True, progress=False, device="cpu")
    pearlkit.train(tiny_config(num_iterations=3, eval_every=2), tmp_path / "run", resume=True, progress=False,
                   device="cpu")
    pearlkit.train(tiny_config(num_iterations=3, eval_every=2), tmp_path / "run", resume=True, progress=False,
                   device="cpu")  # finished, nothing changed: looked at again, not resumed
    record = json.loads((tmp_path / "run" / "versions.json").read_text())
    cpu = pearlkit.runtime.cpu_name()
    assert record["cpu"] == cpu
    assert record["resumed"] == [
        {"iteration": 1, "cpu": cpu, "changed": {"num_iterations": 2}, "was": {"num_iterations": 1}},
        {"iteration": 2, "cpu": cpu, "changed": {"num_iterations": 3, "eval_every": 2},
         "was": {"num_iterations": 2, "eval_every": 1}}]


def test_the_commands_a_run_records_train_it_again_as_it_was_trained(tmp_path):
    # Started at 5 gradient steps an iteration, resumed at 12 from iteration 2, then at float32 ->
    # bfloat16 and a longer run from 3 (two resumes at 3: one stage), then continued unchanged.
    run = tmp_path / "run"
    assert cli_main(["train", "sparse-point-robot", "--out", str(run), "--no-progress", "--set", *TINY_SET]) == 0
    for sets in (["num_iterations=3", "num_train_steps_per_itr=12"], ["precision=bfloat16"], ["num_iterations=5"]):
        assert cli_main(["train", "--resume", str(run), "--no-progress", "--set", *sets]) == 0
        if sets == ["precision=bfloat16"]:
            assert cli_main(["train", "--resume", str(run), "--no-progress"]) == 0  # a resume that changed nothing
    config = PearlConfig.from_file(run / "config.json")
    again = tmp_path / "again"
    commands = training_commands(config, json.loads((run / "versions.json").read_text()), "sparse-point-robot", again)
    assert len(commands) == 3
    assert commands[1] == f"python -m pearlkit train --resume {again} --set num_iterations=3 num_train_steps_per_itr=12"
    assert commands[2] == f"python -m pearlkit train --resume {again} --set num_iterations=5 precision=bfloat16"
    for command in commands:
        assert cli_main([*shlex.split(command)[3:], "--no-progress"]) == 0
    assert without_time(rows(again)) == without_time(rows(run))
    assert [int(r["grad_steps"]) for r in rows(again)] == [5, 10, 22, 34, 46]
    assert PearlConfig.from_file(again / "config.json") == config


def test_a_run_without_the_values_its_resumes_replaced_has_no_commands():
    versions = {"resumed": [{"iteration": 3, "cpu": "x"}, {"iteration": 4, "cpu": "x", "changed": {"num_iterations": 9}}]}
    assert training_commands(tiny_config(), versions, "sparse-point-robot", "runs/x") is None
    assert training_commands(tiny_config(), {"resumed": [{"iteration": 3, "cpu": "x"}]}, "sparse-point-robot",
                             "runs/x") == [train_command(tiny_config(), "sparse-point-robot", out="runs/x")]


def test_a_run_resumes_with_more_gradient_steps_per_iteration(tmp_path):
    pearlkit.train(tiny_config(num_iterations=2), tmp_path / "run", progress=False)
    before = without_time(rows(tmp_path / "run"))
    pearlkit.train(tiny_config(num_iterations=4, num_train_steps_per_itr=12), tmp_path / "run", resume=True,
                   progress=False)
    after = rows(tmp_path / "run")
    assert without_time(after)[:2] == before
    assert [int(r["grad_steps"]) for r in after] == [5, 10, 22, 34]  # 5 a step before the resume, 12 after
    record = json.loads((tmp_path / "run" / "versions.json").read_text())
    assert record["resumed"][0]["changed"] == {"num_iterations": 4, "num_train_steps_per_itr": 12}
    assert PearlConfig.from_file(tmp_path / "run" / "config.json").num_train_steps_per_itr == 12


def test_the_env_step_budget_ends_a_run_before_an_iteration_that_could_pass_it(tmp_path):
    # tiny_config: 6 tasks x 40 initial steps, then 2 tasks x (20 + 40) steps an iteration, 20-step
    # trajectories: the first iteration collects exactly 360, each one after exactly 120; at most
    # 6 x 59 + 2 x (39 + 59) = 550 and 2 x (39 + 59) = 196.
    config = tiny_config(num_iterations=10, eval_every=4, env_step_budget=1_000)
    pearlkit.train(config, tmp_path / "run", progress=False)
    progress = rows(tmp_path / "run")
    assert [int(r["env_steps"]) for r in progress] == [360, 480, 600, 720, 840]  # 840 + 196 > 1,000
    assert [r["iteration"] for r in progress if r["eval/return_after_exploration"]] == ["4", "5"]  # and the last
    pearlkit.train(config, tmp_path / "run", resume=True, progress=False)  # finished: looked at again
    assert len(rows(tmp_path / "run")) == 5 and "resumed" not in json.loads((tmp_path / "run" / "versions.json").read_text())
    pearlkit.train(config.replace(env_step_budget=1_200), tmp_path / "run", resume=True, progress=False)
    assert [int(r["env_steps"]) for r in rows(tmp_path / "run")][5:] == [960, 1080]  # 1,080 + 196 > 1,200


def test_the_cli_says_when_the_budget_ended_the_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert cli_main(["train", "sparse-point-robot", "--out", str(run_dir), "--no-progress", "--set", *TINY_SET,
                     "num_iterations=10", "env_step_budget=1000"]) == 0
    assert "env_step_budget=1,000 reached: 840 env steps at iteration 5 of 10" in capsys.readouterr().err


def test_a_run_checkpointed_before_cpu_seconds_leaves_them_empty(tmp_path):
    # Counting from the resume on would pass part of a run's CPU time off as all of it.
    pearlkit.train(tiny_config(), tmp_path / "run", progress=False)
    path = tmp_path / "run" / training.CHECKPOINT_NAME
    checkpoint = load_checkpoint(path)
    del checkpoint["state"]["cpu_seconds"]
    torch.save(checkpoint, path)
    pearlkit.train(tiny_config(num_iterations=3), tmp_path / "run", resume=True, progress=False)
    assert [r["cpu_seconds"] for r in rows(tmp_path / "run")][-1] == ""
    assert float(rows(tmp_path / "run")[-1]["seconds"]) > 0


@bfloat16_anywhere
def test_a_run_resumes_in_another_number_format_from_the_same_weights(tmp_path):
    pearlkit.train(tiny_config(num_iterations=2), tmp_path / "run", progress=False)
    before = without_time(rows(tmp_path / "run"))
    pearlkit.train(tiny_config(num_iterations=3, precision="bfloat16"), tmp_path / "run", resume=True, progress=False)
    assert without_time(rows(tmp_path / "run"))[:2] == before
    pearlkit.train(tiny_config(num_iterations=3), tmp_path / "float32", progress=False)
    assert without_time(rows(tmp_path / "run"))[2] != without_time(rows(tmp_path / "float32"))[2]  # bfloat16's sums
    assert PearlConfig.from_file(tmp_path / "run" / "config.json").precision == "bfloat16"
    assert json.loads((tmp_path / "run" / "versions.json").read_text())["resumed"][-1]["precision"] == "bfloat16"
    agent, config, iteration = pearlkit.load_agent(tmp_path / "run")
    assert (config.precision, iteration) == ("bfloat16", 3)


@bfloat16_anywhere
def test_an_auto_run_keeps_its_number_format_on_its_machine_and_decides_again_on_another(tmp_path, monkeypatch):
    # "auto" times a product at each start: on a busier machine it could pick the other format.
    monkeypatch.setattr(pearl, "resolve_precision", lambda precision, device: torch.float32)
    pearlkit.train(tiny_config(num_iterations=1, precision="auto"), tmp_path / "run", progress=False, device="cpu")
    path = tmp_path / "run" / "versions.json"
    assert json.loads(path.read_text())["precision"] == "float32"
    monkeypatch.setattr(pearl, "resolve_precision", lambda precision, device: torch.bfloat16)  # "auto" changes its mind
    result = pearlkit.train(tiny_config(num_iterations=2, precision="auto"), tmp_path / "run", resume=True,
                            progress=False, device="cpu")
    assert result["agent"].precision == torch.float32
    assert "precision" not in json.loads(path.read_text())["resumed"][-1]  # as the stage before
    record = json.loads(path.read_text())
    record["resumed"][-1]["cpu"] = "another CPU (2 cores)"
    path.write_text(json.dumps(record))
    result = pearlkit.train(tiny_config(num_iterations=3, precision="auto"), tmp_path / "run", resume=True,
                            progress=False, device="cpu")
    assert result["agent"].precision == torch.bfloat16
    assert json.loads(path.read_text())["resumed"][-1]["precision"] == "bfloat16"
    assert recorded_precision(json.loads(path.read_text())) == "bfloat16"
    # meta-test takes the format the run trained in, not what "auto" would pick now
    monkeypatch.setattr(pearl, "resolve_precision", lambda precision, device: torch.float32)
    assert load_agent(tmp_path / "run", device="cpu")[0].precision == torch.bfloat16


def test_a_finished_run_resumed_with_a_new_meta_test_keeps_its_weights_and_meta_tests_so(tmp_path):
    pearlkit.train(tiny_config(), tmp_path / "run", progress=False)
    before, _, _ = pearlkit.load_agent(tmp_path / "run")
    # no iteration is left: only the config changes, in every file that holds it
    pearlkit.train(tiny_config(exploration_prior="training-beliefs", rule_out_searched=True), tmp_path / "run",
                   resume=True, progress=False)
    agent, config, iteration = pearlkit.load_agent(tmp_path / "run")
    assert (config.exploration_prior, config.rule_out_searched, iteration) == ("training-beliefs", True, 2)
    assert PearlConfig.from_file(tmp_path / "run" / "config.json") == config
    for a, b in zip(before.parameters(), agent.parameters()):
        assert torch.equal(a, b)
    assert len(rows(tmp_path / "run")) == 2


@contextmanager
def cli_training_under_way(run_dir, finished):
    """A 40-iteration CLI training into ``run_dir``, in a process of its own, given once
    ``finished`` iterations are in its ``progress.csv``; it is killed when the block ends."""
    cmd = [sys.executable, "-m", "pearlkit", "train", "sparse-point-robot", "--out", str(run_dir), "--no-progress",
           "--set", *TINY_SET, "num_iterations=40", "num_train_steps_per_itr=30"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    with subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        try:
            deadline = time.time() + 120
            while time.time() < deadline and process.poll() is None:
                if (run_dir / "progress.csv").exists() and len(rows(run_dir)) >= finished:
                    break
                time.sleep(0.05)
            assert process.poll() is None, process.stderr.read().decode()
            yield process
        finally:
            process.kill()


def test_sigkill_mid_training_resumes_losing_at_most_one_iteration(tmp_path):
    run_dir = tmp_path / "run"
    with cli_training_under_way(run_dir, finished=3) as process:
        time.sleep(0.13)  # land somewhere inside an iteration
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished_before_kill = len(rows(run_dir))
    checkpoint = load_checkpoint(run_dir / "checkpoint.pt")  # loads: never half-written
    assert checkpoint["state"]["iteration"] >= finished_before_kill - 1
    assert cli_main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    progress = rows(run_dir)
    assert [int(r["iteration"]) for r in progress] == list(range(1, 41))
    assert not list(run_dir.glob(".*.tmp"))


def test_kill_stops_a_cli_run_as_ctrl_c_does_letting_go_of_its_folder(tmp_path):
    run_dir = tmp_path / "run"
    with cli_training_under_way(run_dir, finished=2) as process:
        process.send_signal(signal.SIGTERM)  # what `kill` and `pkill` send
        stderr = process.stderr.read().decode()
        assert process.wait() == 128 + signal.SIGTERM, stderr
    assert f"terminated; the last finished iteration is saved: python -m pearlkit train --resume {run_dir}" in stderr
    assert not (run_dir / training.LOCK_NAME).exists()
    assert not list(run_dir.glob(".*.tmp"))
    finished = len(rows(run_dir))  # the files agree on the last finished iteration
    assert load_checkpoint(run_dir / "checkpoint.pt")["state"]["iteration"] == finished
    assert pearlkit.load_agent(run_dir)[2] == finished


def test_ctrl_c_stops_a_cli_run_with_the_resume_command_and_status_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pearlkit.cli, "train", interrupted)
    run_dir = tmp_path / "run"
    assert cli_main(["train", "sparse-point-robot", "--out", str(run_dir), "--no-progress", "--set", *TINY_SET]) == 130
    assert (f"interrupted; the last finished iteration is saved: python -m pearlkit train --resume {run_dir}"
            in capsys.readouterr().err)


def test_a_second_trainer_of_a_run_folder_is_refused_by_name_and_writes_nothing(tmp_path, capsys):
    config = tiny_config(num_iterations=1)
    run_dir = tmp_path / "run"
    pearlkit.train(config, run_dir, progress=False)
    assert not (run_dir / training.LOCK_NAME).exists()  # the finished run let go of its folder
    written = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    with training.training_lock(run_dir):  # as a live trainer holds it (flock: one holder per open file)
        with pytest.raises(training.RunFolderBusy, match=rf"{re.escape(str(run_dir))} is being trained by another "
                                                         rf"process \(process {os.getpid()} on "):
            pearlkit.train(config.replace(num_iterations=2), run_dir, resume=True, progress=False)
        assert cli_main(["train", "--resume", str(run_dir), "--set", "num_iterations=2", "--no-progress"]) == 2
        assert "is being trained by another process" in capsys.readouterr().err
        assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir() if p.name != training.LOCK_NAME} == written
        new_dir = tmp_path / "new"  # a new run into a folder another process is starting
        new_dir.mkdir()
        with training.training_lock(new_dir):
            with pytest.raises(training.RunFolderBusy):
                pearlkit.train(config, new_dir, progress=False)
            assert [p.name for p in new_dir.iterdir()] == [training.LOCK_NAME]


def test_a_refused_resume_leaves_no_lock_file_behind(tmp_path):
    config = tiny_config(num_iterations=1)
    run_dir = tmp_path / "run"
    pearlkit.train(config, run_dir, progress=False)
    (run_dir / "evaluation.json").write_text("{}")  # as a shipped result holds it
    with pytest.raises(ValueError, match="is a shipped result"):
        pearlkit.train(config.replace(num_iterations=2), run_dir, resume=True, from_weights=True, progress=False)
    assert not (run_dir / training.LOCK_NAME).exists()


def test_a_lock_file_left_by_a_killed_trainer_locks_nothing(tmp_path):
    config = tiny_config(num_iterations=1)
    run_dir = tmp_path / "run"
    pearlkit.train(config, run_dir, progress=False)
    (run_dir / training.LOCK_NAME).write_text("process 1 on a machine since gone\n")  # no one holds it
    pearlkit.train(config.replace(num_iterations=2), run_dir, resume=True, progress=False)
    assert len(rows(run_dir)) == 2
    assert not (run_dir / training.LOCK_NAME).exists()


def test_restoring_a_run_to_read_it_leaves_a_writers_temporary_file_alone(tmp_path):
    # A diagnosis that restores a run folder must not delete the temporary file the run's own
    # training process is writing its next checkpoint to (it would kill that process).
    config = tiny_config(num_iterations=1)
    run_dir = tmp_path / "run"
    pearlkit.train(config, run_dir, progress=False)
    writing = run_dir / ".checkpoint.pt.inflight.tmp"
    writing.write_bytes(b"half a checkpoint")
    training.restore_run(training.new_run(config, torch.device("cpu")), run_dir)
    assert writing.exists()


def test_ctrl_c_while_the_run_folder_is_written_stops_after_the_whole_save(tmp_path, monkeypatch):
    real_save = training.save_checkpoint

    def save_then_ctrl_c(path, state):  # Ctrl-C lands right after agent.pt, before checkpoint.pt
        real_save(path, state)
        if path.name == training.AGENT_NAME:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(training, "save_checkpoint", save_then_ctrl_c)
    run_dir = tmp_path / "run"
    # Ctrl-C's usual handler: a shell that starts pytest in the background (`pytest &`) makes it
    # ignore SIGINT, and then the signal this test sends would be dropped.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            pearlkit.train(tiny_config(num_iterations=3), run_dir, progress=False)
    finally:
        signal.signal(signal.SIGINT, inherited)
    # Stopped after iteration 1's save, with all three files at iteration 1.
    assert pearlkit.load_agent(run_dir)[2] == 1
    assert load_checkpoint(run_dir / "checkpoint.pt")["state"]["iteration"] == 1
    assert [int(r["iteration"]) for r in rows(run_dir)] == [1]
    assert not list(run_dir.glob(".*.tmp"))


def test_kill_inside_a_deferred_block_ends_the_process_after_the_block(tmp_path):
    script = ("import os, signal, sys\n"
              "from pearlkit.checkpoint import stop_signals_deferred\n"
              "with stop_signals_deferred():\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "    open(sys.argv[1], 'w').write('written')\n"
              "open(sys.argv[1], 'a').write(' and carried on')\n")
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", script, str(marker)], env=env, timeout=60)
    assert done.returncode == -signal.SIGTERM  # killed as by an ordinary kill, once the block was done
    assert marker.read_text() == "written"


def test_signal_raises_in_the_main_thread_and_leaves_handlers_alone_elsewhere():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RuntimeError):
        with signal_raises(signal.SIGTERM, RuntimeError):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the signal lands before this ends
    assert signal.getsignal(signal.SIGTERM) is before  # put back
    outcomes = []

    def elsewhere():  # only the main thread may set a handler: there, nothing is replaced
        with signal_raises(signal.SIGTERM, RuntimeError):
            outcomes.append(signal.getsignal(signal.SIGTERM) is before)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert outcomes == [True]


def test_nan_loss_stops_training_names_it_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_update = pearl.update_step
    calls = {"n": 0}

    def poisoned_update(agent, *args):
        calls["n"] += 1
        if calls["n"] == 8:  # during iteration 2 (5 gradient steps per iteration)
            with torch.no_grad():
                agent.q2.last.weight.fill_(float("nan"))
        return real_update(agent, *args)

    monkeypatch.setattr(pearl, "update_step", poisoned_update)
    with pytest.raises(TrainingDiverged, match=r"q_loss became nan at gradient step 3 of iteration 2; the last good "
                                               r"checkpoint \(iteration 1\) is kept"):
        pearlkit.train(tiny_config(), tmp_path / "run", progress=False)
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert checkpoint["state"]["iteration"] == 1
    assert all(torch.isfinite(v).all() for v in checkpoint["agent"].values())
    agent, _, iteration = pearlkit.load_agent(tmp_path / "run")
    assert iteration == 1


@pytest.mark.parametrize("make, message", [
    (lambda: pearlkit.get_preset("sparse-robot"), r"preset must be one of \[.*'cheetah-vel'.*'sparse-point-robot'"),
    (lambda: PearlConfig(env_id="pearlkit/Maze-v0"), r"env_id must be one of \[.*'pearlkit/HalfCheetahVel-v0'.*'pearlkit/PointNav-v0'"),
    (lambda: with_overrides(PearlConfig(), ["kl_weight=1"]), r"unknown config key 'kl_weight'; allowed: \[.*'kl_lambda'"),
    (lambda: PearlConfig.from_dict({"lr": 1}), r"unknown config key\(s\) \['lr'\]"),
    (lambda: PearlConfig(discount=1.5), r"discount must be in \[0, 1\], got 1.5"),
    (lambda: PearlConfig(meta_batch=0), r"meta_batch must be >= 1, got 0"),
    (lambda: PearlConfig(kl_lambda=float("nan")), r"kl_lambda must be a finite number, got nan"),
    (lambda: PearlConfig(hidden_sizes=(64, 0)), r"hidden_sizes must be a non-empty tuple of positive ints"),
    (lambda: with_overrides(PearlConfig(), ["meta_batch=lots"]), r"cannot parse meta_batch='lots' as int"),
    (lambda: with_overrides(PearlConfig(), ["factor_log_var_limit=wide"]),
     r"cannot parse factor_log_var_limit='wide' as float \| None"),
    (lambda: with_overrides(PearlConfig(), ["env_step_budget=lots"]), r"cannot parse env_step_budget='lots' as int \| None"),
    (lambda: tiny_config(env_step_budget=0), r"env_step_budget must be >= 1, got 0"),
    (lambda: tiny_config(env_step_budget=500),
     r"env_step_budget=500 is less than the first iteration can collect \(550: the initial collection"),
    (lambda: PearlConfig(num_steps_prior=0, num_steps_posterior=0, num_initial_steps=200),
     r"num_steps_prior and num_steps_posterior are both 0: no pick would add context data"),
])
def test_bad_input_gets_an_error_that_names_it(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_set_reads_an_optional_number_as_a_number_or_none():
    config = pearlkit.get_preset("sparse-point-robot")
    assert with_overrides(config, ["factor_log_var_limit=10"]).factor_log_var_limit == 10.0
    assert with_overrides(config, ["factor_log_var_limit=None"]).factor_log_var_limit is None
    assert with_overrides(config, ["env_step_budget=2_500_000"]).env_step_budget == 2_500_000
    assert with_overrides(config, ["env_step_budget=none"]).env_step_budget is None


def test_cli_errors_name_the_bad_value(tmp_path, capsys):
    assert cli_main(["train", "no-such-preset", "--out", str(tmp_path / "x")]) == 2
    assert "no-such-preset" in capsys.readouterr().err
    assert cli_main(["train", "sparse-point-robot", "--out", str(tmp_path / "x"), "--set", "gamma=0.9"]) == 2
    assert "unknown config key 'gamma'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing written for a bad command
    assert cli_main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_cli_train_then_evaluate_json(tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    assert cli_main(["train", "sparse-point-robot", "--out", str(run_dir), "--no-progress", "--set", *TINY_SET]) == 0
    capsys.readouterr()
    assert cli_main(["evaluate", str(run_dir), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["num_tasks"] == 3 and len(metrics["adaptation_curve"]) == 7
    assert 0 <= metrics["success_rate"] <= 1 and metrics["iteration"] == 2
    assert metrics["return_after_exploration"] == pytest.approx(metrics["adaptation_curve"][5])
    # --ignore-misses meta-tests as ignore_misses="meta-test": every inference inside misses_ignored.
    entered = []
    plain_ignored = pearlkit.evaluate.misses_ignored
    monkeypatch.setattr(pearlkit.evaluate, "misses_ignored", lambda agent: entered.append(1) or plain_ignored(agent))
    assert cli_main(["evaluate", str(run_dir), "--json", "--ignore-misses"]) == 0
    ignoring = json.loads(capsys.readouterr().out)
    agent, config, _ = load_agent(run_dir, "cpu")
    inferences = len(ignoring["adaptation_curve"]) - config.num_exp_traj_eval
    assert len(entered) == inferences
    expected = summarize(meta_test(agent, config.split_tasks()[1], config.replace(ignore_misses="meta-test"),
                                   seed=0, runs_per_task=config.num_evals))
    assert ignoring["adaptation_curve"] == pytest.approx(expected.adaptation_curve)
    # What evaluate summarizes, whole: num_evals runs of each held-out task by default, or as many as asked.
    tested = held_out_meta_test(run_dir, seed=0)
    assert [t["goal"].tolist() for t in tested.tasks] == [t["goal"].tolist() for t in config.split_tasks()[1]]
    assert tested.iteration == metrics["iteration"]
    assert summarize(tested.result).adaptation_curve == pytest.approx(metrics["adaptation_curve"])
    assert held_out_meta_test(run_dir, seed=0, runs_per_task=3).result.returns.shape[0] == 3 * len(tested.tasks)
    # ... and the command line's --runs-per-task, whose figures are those of that many runs.
    assert cli_main(["evaluate", str(run_dir), "--json", "--runs-per-task", "3"]) == 0
    more = json.loads(capsys.readouterr().out)
    assert more["runs_per_task"] == 3 and metrics["runs_per_task"] == config.num_evals != 3
    expected = summarize(meta_test(agent, config.split_tasks()[1], config, seed=0, runs_per_task=3))
    assert more["adaptation_curve"] == pytest.approx(expected.adaptation_curve)
    assert cli_main(["evaluate", str(run_dir), "--seeds", "0-1", "--json", "--runs-per-task", "3"]) == 0
    assert {s["runs_per_task"] for s in json.loads(capsys.readouterr().out)["by_seed"]} == {3}
    assert cli_main(["evaluate", str(run_dir), "--runs-per-task", "0"]) == 2
    assert "runs_per_task (--runs-per-task) must be >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="must be >= 1, got 0"):  # not read as "the default"
        held_out_meta_test(run_dir, seed=0, runs_per_task=0)
    assert cli_main(["train", "sparse-point-robot", "--out", str(run_dir), "--set", *TINY_SET]) == 2  # exists
    assert "already holds a run" in capsys.readouterr().err


def test_cli_train_without_a_progress_bar_logs_each_evaluation_on_stderr(tmp_path, capsys):
    # A background run's log (nohup ... > run.log 2>&1) says where it stands; stdout keeps one JSON line.
    assert cli_main(["train", "sparse-point-robot", "--out", str(tmp_path / "run"), "--no-progress", "--set",
                     *TINY_SET, "num_iterations=4", "eval_every=2"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    progress = rows(tmp_path / "run")
    assert [line.split(":")[0] for line in lines] == ["iteration 2/4", "iteration 4/4"]
    for line, row in zip(lines, progress[1::2]):
        assert f"return after exploration {float(row['eval/return_after_exploration']):.1f}" in line
        assert f"success {float(row['eval/success_rate']):.2f} (reported {float(row['eval/reported_success']):.2f})" in line
        assert f"{int(row['env_steps']):,} env steps" in line
    assert json.loads(captured.out)["iteration"] == 4


def test_the_evaluation_line_of_a_family_without_success():
    from pearlkit.cli import evaluation_line

    row = {"iteration": 10, "env_steps": 115927, "seconds": 900.0, "cpu_seconds": 780.0,
           "eval/return_after_exploration": 115.44, "eval/reported_return": 120.06}
    walker = pearlkit.get_preset("walker-2d-params")
    assert evaluation_line(row, walker) == (f"iteration 10/{walker.num_iterations}: 115,927 env steps, 15.0 min "
                                            "(CPU 13.0 min); return after exploration 115.4 (reported 120.1)")
    assert "CPU" not in evaluation_line({**row, "cpu_seconds": None}, walker)


def test_cli_json_into_a_closed_pipe_ends_quietly(tmp_path):
    """`evaluate --json | head` must not end in a BrokenPipeError traceback."""
    run_dir = tmp_path / "run"
    assert cli_main(["train", "sparse-point-robot", "--out", str(run_dir), "--no-progress", "--set", *TINY_SET]) == 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    process = subprocess.Popen([sys.executable, "-m", "pearlkit", "evaluate", str(run_dir), "--json"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the JSON is written
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1
    assert stderr == ""


def test_cli_resume_errors(tmp_path, capsys):
    assert cli_main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert cli_main(["train"]) == 2
    assert "name a preset" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(tiny_config().to_json())
    assert cli_main(["train", "--resume", str(tmp_path), "--set", "kl_lambda=2"]) == 2
    assert ("can only change ['context_lr', 'context_sampling', 'env_step_budget', 'eval_every', 'exploit_with_mean', "
            "'exploration_actions', 'exploration_prior', 'num_iterations', 'num_train_steps_per_itr', 'policy_lr', "
            "'precision', 'qf_lr', 'relabel_goals', 'rule_out_searched', 'temperature', 'vary_context_size', 'vf_lr'], "
            "not ['kl_lambda']" in capsys.readouterr().err)


@pytest.mark.parametrize("text, message", [
    ("", r"config\.json is not valid JSON \(Expecting value: line 1 column 1 \(char 0\)\); it should hold"),
    ('{"seed": 0', r"config\.json is not valid JSON"),
    ("[1, 2]", r"config\.json holds a JSON list, not the run's config"),
    ('{"lr": 1}', r"config\.json is not a valid config: unknown config key\(s\) \['lr'\]"),
    ('{"discount": 2}', r"config\.json is not a valid config: discount must be in \[0, 1\], got 2"),
])
def test_resume_with_a_corrupt_config_names_the_file_and_what_is_wrong(tmp_path, capsys, text, message):
    (tmp_path / "config.json").write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli_main(["train", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert re.search(re.escape(str(tmp_path / "config.json"))[:-len(r"config\.json")] + message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_a_shipped_copy_goes_on_from_its_weights_with_its_buffers_refilled(tmp_path):
    # A shipped copy (results/) keeps the weights and the curve, not the buffers or optimizers:
    # a run whose checkpoint is lost goes on from there, refilling every task's buffers first.
    pearlkit.train(tiny_config(), tmp_path / "run", progress=False)
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for name in SHIPPED_FILES:
        (shipped / name).write_bytes((tmp_path / "run" / name).read_bytes())
    before, _, _ = pearlkit.load_agent(shipped)
    with pytest.raises(FileNotFoundError, match="only the weights in agent.pt .* --from-weights"):
        pearlkit.train(tiny_config(num_iterations=4), shipped, resume=True, progress=False)
    assert not (shipped / training.CHECKPOINT_NAME).exists()
    pearlkit.train(tiny_config(num_iterations=4), shipped, resume=True, progress=False, from_weights=True)
    progress = rows(shipped)
    assert progress[:2] == rows(tmp_path / "run")  # the curve goes on, its rows as they were
    # 6 tasks x 40 steps refilled at iteration 3, as at iteration 1, then 2 tasks x 60 an iteration
    assert [int(r["env_steps"]) for r in progress] == [360, 480, 840, 960]
    assert [int(r["grad_steps"]) for r in progress] == [5, 10, 15, 20]
    assert float(progress[2]["cpu_seconds"]) > float(progress[1]["cpu_seconds"])
    agent, _, iteration = pearlkit.load_agent(shipped)
    assert iteration == 4 and any(not torch.equal(a, b) for a, b in zip(before.parameters(), agent.parameters()))
    assert json.loads((shipped / "versions.json").read_text())["resumed"] == [
        {"iteration": 2, "cpu": pearlkit.runtime.cpu_name(), "changed": {"num_iterations": 4},
         "was": {"num_iterations": 2}, "from_weights": True}]
    # now it has a checkpoint of its own, with full buffers: a plain resume goes on from it
    checkpoint = load_checkpoint(shipped / training.CHECKPOINT_NAME)
    assert checkpoint["replay"]["size"].min() > 0 and checkpoint["context_buffer"]["size"].min() > 0
    pearlkit.train(tiny_config(num_iterations=5), shipped, resume=True, progress=False)
    assert [int(r["env_steps"]) for r in rows(shipped)][4] == 1080


def test_weights_without_their_curve_or_a_run_do_not_go_on(tmp_path, capsys):
    pearlkit.train(tiny_config(), tmp_path / "run", progress=False)
    (tmp_path / "run" / training.CHECKPOINT_NAME).unlink()
    with (tmp_path / "run" / "progress.csv").open() as f:
        lines = f.readlines()
    (tmp_path / "run" / "progress.csv").write_text("".join(lines[:-1]))  # the curve ends before the weights
    with pytest.raises(ValueError, match="agent.pt holds iteration 2 but progress.csv ends at 1"):
        pearlkit.train(tiny_config(num_iterations=3), tmp_path / "run", resume=True, progress=False,
                       from_weights=True)
    assert not (tmp_path / "run" / training.CHECKPOINT_NAME).exists()
    (tmp_path / "run" / "evaluation.json").write_text("{}")  # a shipped result: results/ is not a run folder
    with pytest.raises(ValueError, match="is a shipped result .* copy its config.json, progress.csv, versions.json "
                                         "and agent.pt to a run folder"):
        pearlkit.train(tiny_config(num_iterations=3), tmp_path / "run", resume=True, progress=False,
                       from_weights=True)
    assert cli_main(["train", "sparse-point-robot", "--from-weights", "--out", str(tmp_path / "new")]) == 2
    assert "--from-weights continues a run: give it with --resume RUN_DIR" in capsys.readouterr().err


def test_a_run_finished_and_resumed_from_its_weights_writes_no_checkpoint_with_empty_buffers(tmp_path):
    # No iteration is left to refill the buffers, so no checkpoint may claim them empty.
    pearlkit.train(tiny_config(), tmp_path / "run", progress=False)
    (tmp_path / "run" / training.CHECKPOINT_NAME).unlink()
    pearlkit.train(tiny_config(), tmp_path / "run", resume=True, progress=False, from_weights=True)
    assert not (tmp_path / "run" / training.CHECKPOINT_NAME).exists()
    assert len(rows(tmp_path / "run")) == 2


def test_the_commands_of_a_run_that_went_on_from_its_weights_train_it_again(tmp_path):
    run = tmp_path / "run"
    assert cli_main(["train", "sparse-point-robot", "--out", str(run), "--no-progress", "--set", *TINY_SET]) == 0
    (run / training.CHECKPOINT_NAME).unlink()  # lost
    assert cli_main(["train", "--resume", str(run), "--from-weights", "--no-progress",
                     "--set", "num_iterations=3"]) == 0
    assert cli_main(["train", "--resume", str(run), "--no-progress", "--set", "num_iterations=4"]) == 0
    again = tmp_path / "again"
    commands = training_commands(PearlConfig.from_file(run / "config.json"),
                                 json.loads((run / "versions.json").read_text()), "sparse-point-robot", again)
    assert commands[1:] == [f"python -m pearlkit train --resume {again} --from-weights --set num_iterations=3",
                            f"python -m pearlkit train --resume {again} --set num_iterations=4"]
    for command in commands:
        assert cli_main([*shlex.split(command)[3:], "--no-progress"]) == 0  # its checkpoint is there, and ignored
    assert without_time(rows(again)) == without_time(rows(run))


@pytest.mark.parametrize("change", [{"vary_context_size": True}, {"context_sampling": "trajectory"}])
def test_a_run_resumes_with_other_contexts(tmp_path, change):
    pearlkit.train(tiny_config(num_iterations=2), tmp_path / "run", progress=False)
    pearlkit.train(tiny_config(num_iterations=3), tmp_path / "same", progress=False)
    pearlkit.train(tiny_config(num_iterations=3, **change), tmp_path / "run", resume=True, progress=False)
    assert without_time(rows(tmp_path / "run"))[:2] == without_time(rows(tmp_path / "same"))[:2]
    # the encoder's contexts change from the resume on, and so does what the critic learns from them
    assert rows(tmp_path / "run")[2]["train/q_loss"] != rows(tmp_path / "same")[2]["train/q_loss"]
    assert json.loads((tmp_path / "run" / "versions.json").read_text())["resumed"][0]["changed"] == {
        "num_iterations": 3, **change}


def test_a_run_resumes_relabelling_goals(tmp_path):
    config = tiny_ant_goal_config(num_iterations=1, eval_every=1, num_evals=1, num_steps_per_eval=30,
                                  max_path_length=10)
    pearlkit.train(config, tmp_path / "run", progress=False)
    pearlkit.train(config.replace(num_iterations=2), tmp_path / "same", progress=False)
    pearlkit.train(config.replace(num_iterations=2, relabel_goals=1.0), tmp_path / "run", resume=True, progress=False)
    assert without_time(rows(tmp_path / "run"))[:1] == without_time(rows(tmp_path / "same"))[:1]
    # from the resume on every gradient step reads relabelled rewards, and the critic learns from them
    assert rows(tmp_path / "run")[1]["train/q_loss"] != rows(tmp_path / "same")[1]["train/q_loss"]
    assert json.loads((tmp_path / "run" / "versions.json").read_text())["resumed"][0]["changed"] == {
        "num_iterations": 2, "relabel_goals": 1.0}


def test_a_run_resumes_at_another_temperature_unless_it_learns_its_own(tmp_path):
    pearlkit.train(tiny_config(num_iterations=2), tmp_path / "run", progress=False)
    pearlkit.train(tiny_config(num_iterations=3), tmp_path / "same", progress=False)
    pearlkit.train(tiny_config(num_iterations=3, temperature=0.3), tmp_path / "run", resume=True, progress=False)
    assert without_time(rows(tmp_path / "run"))[:2] == without_time(rows(tmp_path / "same"))[:2]
    # the policy's loss weighs the entropy by the new temperature from the resume on
    assert rows(tmp_path / "run")[2]["train/policy_loss"] != rows(tmp_path / "same")[2]["train/policy_loss"]
    assert json.loads((tmp_path / "run" / "versions.json").read_text())["resumed"][0]["changed"] == {
        "num_iterations": 3, "temperature": 0.3}
    pearlkit.train(tiny_config(learn_temperature=True), tmp_path / "learned", progress=False)
    with pytest.raises(ValueError, match="at temperature=0.3: it learns its temperature"):
        pearlkit.train(tiny_config(num_iterations=3, learn_temperature=True, temperature=0.3), tmp_path / "learned",
                       resume=True, progress=False)
