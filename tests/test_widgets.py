"""The book's widgets and their static twins, built on an untrained agent."""
import pytest

pytest.importorskip("ipywidgets")

from pearlkit.evaluate import meta_test  # noqa: E402
from pearlkit.widgets import (  # noqa: E402
    BeliefView,
    ExplorationView,
    belief_animation,
    exploration_animation,
    show_source,
)
from tests.conftest import agent_with_data, tiny_config  # noqa: E402

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def meta_tested():
    config, agent, _, tasks, _, _ = agent_with_data(tiny_config())
    protocol = config.replace(num_exp_traj_eval=2, num_steps_per_eval=4 * config.max_path_length)
    result = meta_test(agent, tasks, protocol, seed=0)
    return config, agent, tasks, result


def test_belief_view_redraws_when_transitions_are_added(meta_tested):
    config, agent, tasks, result = meta_tested
    view = BeliefView(agent, config, result, tasks, [0, 2], num_trajs=3)
    assert view.count.max == 3 * config.max_path_length
    first = bytes(view.image.value)
    assert first.startswith(PNG)
    view.count.value = 25
    assert bytes(view.image.value).startswith(PNG) and bytes(view.image.value) != first
    view.task.value = 2
    assert view.count.value == 0


def test_exploration_view_shows_each_trajectory(meta_tested):
    config, agent, tasks, result = meta_tested
    view = ExplorationView(result, tasks, [0, 1])
    assert view.episode.max == 4
    images = set()
    for k in range(1, 5):
        view.episode.value = k
        images.add(bytes(view.image.value))
    assert len(images) == 4


def test_static_twins_are_scrubbable_javascript_animations(meta_tested):
    config, agent, tasks, result = meta_tested
    belief = belief_animation(agent, config, result, tasks, 0, num_trajs=2, every=10)
    exploration = exploration_animation(result, tasks, 1)
    for html, frames in ((belief, 5), (exploration, 4)):  # 0, 10, 20, 30, 40 transitions; 4 trajectories
        assert "<script" in html and "Animation" in html
        assert html.count("data:image/png;base64") == frames


def test_show_source_gives_the_packages_own_code():
    import inspect

    from pearlkit.inference import product_of_gaussians
    assert inspect.getsource(product_of_gaussians) in show_source(product_of_gaussians).data
