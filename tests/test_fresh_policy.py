"""benchmarks/fresh_policy.py: another run's encoder, every other network as a new run starts it."""
import sys
from pathlib import Path

import pytest
import torch

import pearlkit
from pearlkit.checkpoint import load_agent
from pearlkit.pearl import new_trainer
from pearlkit.training import train
from tests.conftest import tiny_config

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from fresh_policy import fresh_policy  # noqa: E402


def test_the_encoder_is_the_runs_and_the_rest_as_a_new_run_starts_and_it_trains_on(tmp_path):
    config = tiny_config(num_iterations=2)
    train(config, tmp_path / "run", progress=False)
    trained, _, _ = load_agent(tmp_path / "run")
    assert fresh_policy(tmp_path / "run", tmp_path / "fresh") == 2
    agent, _, iteration = load_agent(tmp_path / "fresh")
    start = new_trainer(config, torch.device("cpu")).agent.state_dict()
    for name, value in agent.state_dict().items():
        expected = trained.state_dict()[name] if name.startswith("encoder.") else start[name]
        assert torch.equal(value, expected), name
    assert iteration == 2
    pearlkit.train(tiny_config(num_iterations=3, context_lr=1e-12), tmp_path / "fresh", resume=True,
                   progress=False, from_weights=True)
    after, _, _ = load_agent(tmp_path / "fresh")
    for name, value in after.state_dict().items():
        if name.startswith("encoder."):
            assert (value - trained.state_dict()[name]).abs().max() < 1e-9, name


def test_refuses_an_existing_folder_and_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="out exists"):
        fresh_policy(tmp_path, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no config.json, progress.csv, versions.json, agent.pt"):
        fresh_policy(tmp_path, tmp_path / "new")
    assert not (tmp_path / "new").exists()
