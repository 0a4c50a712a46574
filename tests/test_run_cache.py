"""Run folders trained on first use with the CLI, found afterwards, resumed when interrupted."""
import json
from pathlib import Path

import pytest

import pearlkit
from pearlkit.cli import with_overrides
from pearlkit.run_cache import (
    book_agent,
    book_run,
    cached_run,
    shipped_results,
    shipped_run,
)
from pearlkit.training import finished_iterations
from tests.conftest import tiny_config

PRESET = "sparse-point-robot-plain"
# tiny_config as overrides of the preset (what `--set` would receive)
TINY = {k: v for k, v in tiny_config().to_dict().items() if v != pearlkit.get_preset(PRESET).to_dict()[k]}


def test_first_call_trains_with_the_cli_and_later_calls_reuse_the_folder(tmp_path, capsys):
    run_dir = cached_run(PRESET, TINY, root=tmp_path, name="nav")
    assert "python -m pearlkit train" in capsys.readouterr().err
    assert finished_iterations(run_dir) == TINY["num_iterations"]
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["num_train_tasks"] == TINY["num_train_tasks"] and saved["seed"] == 0
    stamp = (run_dir / "agent.pt").stat().st_mtime_ns
    assert cached_run(PRESET, TINY, root=tmp_path, name="nav") == run_dir
    assert "using the trained run" in capsys.readouterr().err
    assert (run_dir / "agent.pt").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="different config.*kl_lambda"):
        cached_run(PRESET, {**TINY, "kl_lambda": 0.5}, root=tmp_path, name="nav")


def test_an_interrupted_run_is_resumed(tmp_path):
    config = with_overrides(pearlkit.get_preset(PRESET), [f"{k}={v}" for k, v in TINY.items()])
    config = config.replace(num_iterations=3)

    def stop_after_first(row):
        if row["iteration"] == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        pearlkit.train(config, tmp_path / "nav", progress=False, on_iteration=stop_after_first)
    assert finished_iterations(tmp_path / "nav") == 1
    cached_run(PRESET, {**TINY, "num_iterations": 3}, root=tmp_path, name="nav")
    assert finished_iterations(tmp_path / "nav") == 3


def test_unknown_names_and_bad_overrides_are_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="unknown book run 'nope'.*deterministic"):
        book_run("nope", root=tmp_path)
    with pytest.raises(ValueError, match="unknown config key 'nope'"):
        cached_run(PRESET, {"nope": 1}, root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_shipped_results_lists_folders_holding_an_agent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shipped_results() == {}
    (tmp_path / "results" / "cheetah-vel").mkdir(parents=True)
    (tmp_path / "results" / "cheetah-vel" / "agent.pt").write_bytes(b"")
    (tmp_path / "results" / "half-written").mkdir()  # no agent.pt: not a result
    (tmp_path / "results" / "sparse-point-robot").mkdir()  # navigation: not a locomotion family
    (tmp_path / "results" / "sparse-point-robot" / "agent.pt").write_bytes(b"")
    assert shipped_results() == {"cheetah-vel": Path("results") / "cheetah-vel"}
    assert shipped_run("sparse-point-robot") == Path("results") / "sparse-point-robot"
    with pytest.raises(FileNotFoundError, match="no shipped run 'half-written'.*results/half-written"):
        shipped_run("half-written")
    assert book_agent("pearl") == Path("results") / "sparse-point-robot"  # shipped, not trained
    with pytest.raises(ValueError, match="unknown book agent 'live'"):
        book_agent("live")


def test_a_run_without_a_recorded_evaluation_is_named(tmp_path):
    from pearlkit.run_cache import recorded_evaluation

    with pytest.raises(FileNotFoundError, match=f"{tmp_path} records no evaluation"):
        recorded_evaluation(tmp_path)
