"""benchmarks/watch_copies.py: copies of a run taken at iteration boundaries, each meta-tested."""
import json
import sys
import threading
from pathlib import Path

import pytest

from pearlkit.checkpoint import AGENT_NAME, SHIPPED_FILES
from pearlkit.training import train

from tests.conftest import tiny_config

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from watch_copies import copy_at, look, main  # noqa: E402


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    train(tiny_config(num_iterations=2), run_dir, progress=False)
    return run_dir


def test_nothing_is_copied_before_an_iteration_is_due_or_finished(tmp_path, finished_run):
    (tmp_path / "empty").mkdir()
    assert look(tmp_path / "empty", str(tmp_path / "c"), 5, "0", None) is False  # no iteration yet
    # A copy asked for at another iteration than the files hold leaves nothing behind.
    assert copy_at(finished_run, tmp_path / "c-1", 1) is False
    assert not (tmp_path / "c-1").exists()


def test_the_last_iteration_of_a_finished_run_is_copied_and_meta_tested(tmp_path, finished_run, capsys):
    prefix = str(tmp_path / "copy")
    assert look(finished_run, prefix, 5, "0-1", 3) is True  # 2 is no multiple of 5, but the run's last
    copy = tmp_path / "copy-2"
    assert sorted(p.name for p in copy.iterdir()) == sorted(SHIPPED_FILES)
    assert (copy / AGENT_NAME).read_bytes() == (finished_run / AGENT_NAME).read_bytes()
    result = json.loads((tmp_path / "copy-2.eval.json").read_text())
    assert result["seeds"] == [0, 1]
    assert [(s["iteration"], s["runs_per_task"]) for s in result["by_seed"]] == [(2, 3), (2, 3)]
    assert capsys.readouterr().out.startswith("2 ")
    assert look(finished_run, prefix, 5, "0-1", 3) is True  # already there: nothing measured again
    assert capsys.readouterr().out == ""


def test_another_measurement_runs_on_each_copy_in_place_of_evaluate(tmp_path, finished_run, capsys):
    prefix = str(tmp_path / "copy")
    command = f"{sys.executable} -c \"import sys; print('ignored'); print('measured', sys.argv[1])\" {{copy}}"
    assert look(finished_run, prefix, 5, "0", None, measure=command) is True
    copy = tmp_path / "copy-2"
    assert (tmp_path / "copy-2.measure.txt").read_text() == f"ignored\nmeasured {copy}\n"
    assert not (tmp_path / "copy-2.eval.json").exists()
    assert capsys.readouterr().out == f"2 measured {copy}\n"
    look(finished_run, str(tmp_path / "other"), 5, "0", None, measure=f"{sys.executable} -c \"raise SystemExit(3)\"")
    assert capsys.readouterr().out == "2 failed with exit status 3\n"


def test_the_watch_waits_for_a_run_that_has_not_written_its_config_yet(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "starting"
    run_dir.mkdir()
    argv = ["watch_copies.py", str(run_dir), str(tmp_path / "c"), "--once", "--poll", "0.05"]
    monkeypatch.setattr(sys, "argv", argv + ["--wait", "0.2"])
    with pytest.raises(SystemExit):
        main()
    assert "no config.json after waiting 0.2 s" in capsys.readouterr().err
    # Written while it waits: it goes on to look (once: nothing to copy yet) instead of failing.
    timer = threading.Timer(0.3, lambda: (run_dir / "config.json").write_text("{}"))
    timer.start()
    monkeypatch.setattr(sys, "argv", argv + ["--wait", "30"])
    main()
    timer.join()
    assert not list(tmp_path.glob("c-*"))
