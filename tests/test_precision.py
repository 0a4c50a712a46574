"""Mixed precision: the bfloat16 hidden layers against float32, what "auto" resolves to, and
float32 staying exactly what it was."""
import copy

import pytest
import torch

import pearlkit
from pearlkit import runtime
from pearlkit.config import PearlConfig
from pearlkit.networks import QNetwork
from pearlkit.pearl import build_agent, make_optimizers, update_step
from pearlkit.sac import TransitionBatch
from tests.conftest import bfloat16_anywhere, tiny_config

#: bfloat16 keeps 8 significant bits: a rounding errs by at most 2^-8 relative (unit roundoff 2^-9,
#: doubled for round-to-nearest ties and the fp32 -> bf16 -> fp32 round trip of autocast).
BF16_ROUNDING = 2.0**-8


def _rounding_budget(hidden_sizes):
    """Relative error a network's output may carry: each hidden layer rounds its input and its
    weights (two roundings), and the output layer reads rounded activations (one more); to first
    order the relative errors add up. Sums inside a layer accumulate in float32."""
    return (2 * len(hidden_sizes) + 1) * BF16_ROUNDING


def _batch(n, obs_dim, action_dim, generator):
    return TransitionBatch(torch.randn(n, obs_dim, generator=generator),
                           torch.rand(n, action_dim, generator=generator) * 2 - 1,
                           -torch.rand(n, generator=generator), torch.randn(n, obs_dim, generator=generator),
                           torch.zeros(n))


def test_bf16_network_output_stays_within_the_formats_rounding_of_float32():
    hidden = (64, 64, 64)
    q = QNetwork(6, 3, 5, hidden)
    torch.nn.init.normal_(q.last.weight)  # an output of order one, not the near-zero start
    generator = torch.Generator().manual_seed(1)
    obs, action, z = (torch.randn(4096, d, generator=generator) for d in (6, 3, 5))
    exact = q(obs, action, z)
    q.hidden_dtype = torch.bfloat16
    low = q(obs, action, z)
    assert low.dtype == torch.float32  # the output layer runs in float32
    relative = (low - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt()
    assert 0 < relative <= _rounding_budget(hidden)  # it really ran in bfloat16, and no worse than that


def test_bf16_update_step_losses_stay_close_to_float32_on_the_same_batch():
    config = tiny_config(hidden_sizes=(64, 64), encoder_hidden_sizes=(64,), reward_scale=5.0)
    torch.manual_seed(0)
    agent32 = build_agent(config, torch.device("cpu"))
    agent16 = copy.deepcopy(agent32).set_precision(torch.bfloat16)
    generator = torch.Generator().manual_seed(2)
    batch = _batch(4 * 64, 2, 2, generator)
    context = torch.randn(4, 16, agent32.context_dim, generator=generator)
    losses = {}
    for name, agent in (("float32", agent32), ("bfloat16", agent16)):
        torch.manual_seed(3)  # the same z and policy noise for both
        losses[name] = update_step(agent, make_optimizers(agent, config), batch, context, config)
    # The squared losses carry twice the networks' relative error; the budget is the largest network's.
    budget = 2 * _rounding_budget(config.hidden_sizes)
    for key in ("q_loss", "v_loss", "kl"):
        exact, low = losses["float32"][key].item(), losses["bfloat16"][key].item()
        assert low != exact and abs(low - exact) <= budget * abs(exact), (key, exact, low)


@bfloat16_anywhere
def test_bf16_training_runs_end_to_end_with_finite_losses():
    result = pearlkit.train(tiny_config(precision="bfloat16"), progress=False)
    assert result["agent"].precision == torch.bfloat16
    assert all(torch.isfinite(torch.tensor(float(result[f"train/{k}"])))
               for k in ("q_loss", "kl", "v_loss", "policy_loss"))


@bfloat16_anywhere
def test_bf16_critic_fits_a_batch_as_float32_does():
    curves = {}
    for precision in ("float32", "bfloat16"):
        config = tiny_config(precision=precision)
        torch.manual_seed(0)
        agent = build_agent(config, torch.device("cpu"))
        optimizers = make_optimizers(agent, config)
        generator = torch.Generator().manual_seed(4)
        batch = _batch(config.meta_batch * config.batch_size, 2, 2, generator)
        context = torch.randn(config.meta_batch, 8, agent.context_dim, generator=generator)
        curves[precision] = [update_step(agent, optimizers, batch, context, config)["q_loss"].item()
                             for _ in range(200)]
    low, exact = curves["bfloat16"], curves["float32"]
    assert low[-1] < 0.25 * low[0]  # the bf16 gradients point downhill
    assert abs(low[-1] - exact[-1]) <= 0.05 * exact[-1]  # and it falls as float32 does


@pytest.mark.parametrize("precision, device, cpu_bf16, speedup, capability, expected", [
    ("auto", "cpu", True, 4.5, None, torch.bfloat16),  # AVX512-BF16 that pays (an AMD EPYC)
    ("auto", "cpu", True, 0.6, None, torch.float32),  # AVX512-BF16 slower than float32 (an Intel Xeon, no AMX)
    ("auto", "cpu", False, None, None, torch.float32),  # no bf16 at all: not even timed
    ("auto", "cuda", False, None, (8, 0), torch.bfloat16),  # A100, L4, H100
    ("auto", "cuda", True, 4.5, (7, 5), torch.float32),  # Colab's T4
    ("float32", "cpu", True, 4.5, None, torch.float32),
])
def test_auto_precision_resolves_by_the_hardware(monkeypatch, precision, device, cpu_bf16, speedup, capability,
                                                  expected):
    def timed():
        assert speedup is not None, "timed a CPU without bf16"
        return speedup

    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: cpu_bf16)
    monkeypatch.setattr(runtime, "cpu_bf16_speedup", timed)
    monkeypatch.setattr(runtime.torch.cuda, "get_device_capability", lambda device=None: capability)
    assert runtime.resolve_precision(precision, torch.device(device)) == expected


@pytest.mark.parametrize("device, cpu_bf16, capability, warns", [
    ("cpu", False, None, True),  # an AVX2-only CPU (an AMD EPYC of the Zen 3 generation): emulated
    ("cpu", True, None, False),
    ("cuda", False, (7, 5), True),  # Colab's T4
    ("cuda", False, (8, 0), False),
])
def test_bfloat16_asked_where_it_is_emulated_warns(monkeypatch, recwarn, device, cpu_bf16, capability, warns):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: cpu_bf16)
    monkeypatch.setattr(runtime, "cpu_name", lambda: "Test CPU (2 cores)")
    monkeypatch.setattr(runtime.torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(runtime.torch.cuda, "get_device_name", lambda device=None: "Test GPU")
    assert runtime.resolve_precision("bfloat16", torch.device(device)) == torch.bfloat16  # still obeyed
    messages = [str(w.message) for w in recwarn]
    if warns:
        where = "Test CPU (2 cores)" if device == "cpu" else "Test GPU"
        assert messages == [f"precision='bfloat16' on {where}, which has no native bfloat16: PyTorch emulates it, "
                            "several times slower than float32; precision='auto' picks float32 here"]
    else:
        assert messages == []


def test_cpu_bf16_check_reads_the_cpu_flags(monkeypatch, tmp_path):
    import builtins

    real_open = builtins.open
    for flags, expected in (("fpu avx512f avx512_bf16 sse", True), ("fpu amx_bf16 amx_tile", True),
                            ("fpu avx512f avx2", False)):
        (tmp_path / "cpuinfo").write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        monkeypatch.setattr(builtins, "open", lambda path, *a, **k: real_open(
            tmp_path / "cpuinfo" if path == "/proc/cpuinfo" else path, *a, **k))
        assert runtime.cpu_has_native_bf16() is expected


def test_precision_is_validated_and_float32_unless_asked():
    assert PearlConfig().precision == "float32"
    with pytest.raises(ValueError, match=r"precision must be one of \['auto', 'bfloat16', 'float32'\], got 'fp16'"):
        PearlConfig(precision="fp16")


def test_float32_forward_is_exactly_the_plain_float32_computation():
    q = QNetwork(4, 2, 3, (16, 16))
    x = torch.randn(32, 9)
    h = x
    for layer in q.hidden:
        h = torch.relu(torch.nn.functional.linear(h, layer.weight, layer.bias))
    expected = torch.nn.functional.linear(h, q.last.weight, q.last.bias).squeeze(-1)
    assert torch.equal(q(x[:, :4], x[:, 4:6], x[:, 6:]), expected)
