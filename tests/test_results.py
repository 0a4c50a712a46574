"""The trained runs shipped in results/: each loads, matches its family, and carries its curve
and the commands that made it (``python -m pearlkit evaluate results/<family>`` on a fresh clone)."""
import csv
import json
from pathlib import Path

import pytest

import pearlkit
from pearlkit.config import LOCOMOTION_FAST, PearlConfig
from pearlkit.run_cache import BOOK_RUNS, SHIPPED_AS

RESULTS = Path(__file__).parents[1] / "results"
SHIPPED = sorted(p.name for p in RESULTS.iterdir() if p.name != "sweeps") if RESULTS.is_dir() else []
#: What each folder was trained from: (preset, overrides). The chapters' navigation agents are
#: run_cache.BOOK_RUNS entries, shipped under run_cache.SHIPPED_AS.
TRAINED_FROM = {**{family: (family, {}) for family in LOCOMOTION_FAST},
                **{folder: BOOK_RUNS[name] for name, folder in SHIPPED_AS.items()}}
SWEEPS = sorted(p.name for p in (RESULTS / "sweeps").iterdir()) if (RESULTS / "sweeps").is_dir() else []


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
    assert f"python -m pearlkit train {preset_name} --seed {config.seed}" in readme
    assert f"python -m pearlkit train --resume runs/{family}-seed{config.seed}" in readme


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
    assert [r.preset for r in load_presets(folder)] == sorted({t["preset"] for t in trials})
    assert (folder / "report" / "report.md").exists()


def test_a_sweep_that_is_not_shipped_is_named():
    from pearlkit.run_cache import shipped_sweep

    with pytest.raises(FileNotFoundError, match="no shipped sweep 'nowhere'"):
        shipped_sweep("nowhere")
