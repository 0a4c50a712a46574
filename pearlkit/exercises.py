r"""Checks for the book's fill-in exercises: write the function yourself, then run its check.

Each check calls the reader's function on cases whose answers are known independently of
pearlkit (a closed form, one Bayes update at a time, :func:`torch.nn.functional.mse_loss`) and
returns a report to print: which cases pass, and for the first that fails, what was expected
and what came back. A function that still returns ``None`` (the blank as the book leaves it)
gets "not written yet" rather than an error, so the chapter still runs top to bottom.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

Case = tuple[str, Callable[[], tuple[object, object]]]


def _close(got: object, expected: object) -> bool:
    if isinstance(expected, tuple):
        return isinstance(got, tuple) and len(got) == len(expected) and all(map(_close, got, expected))
    if not isinstance(got, Tensor) or got.shape != expected.shape:
        return False
    return torch.allclose(got.double(), expected.double(), rtol=1e-5, atol=1e-8)


def _describe(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    if isinstance(value, Tensor):
        more = "..." if value.numel() > 4 else ""
        return f"tensor of shape {tuple(value.shape)}: {value.flatten()[:4].tolist()}{more}"
    return repr(value)


def _run_cases(name: str, cases: list[Case]) -> str:
    for number, (label, case) in enumerate(cases, 1):
        got, expected = case()
        if got is None:
            return f"{name}: not written yet (it returns None). Fill it in and run this cell again."
        if not _close(got, expected):
            return (f"{name}: case {number} of {len(cases)} fails, {label}.\n"
                    f"  expected {_describe(expected)}\n  got      {_describe(got)}")
    return f"{name}: all {len(cases)} cases pass."


def _bayes_one_at_a_time(mu: Tensor, var: Tensor) -> tuple[Tensor, Tensor]:
    """The product of Gaussian factors, folded in one factor at a time (Bayes' rule for Gaussians)."""
    mean, variance = mu[:, 0], var[:, 0]
    for n in range(1, mu.shape[1]):
        mean, variance = ((mean * var[:, n] + mu[:, n] * variance) / (variance + var[:, n]),
                          variance * var[:, n] / (variance + var[:, n]))
    return mean, variance


def check_product_of_gaussians(fn: Callable[[Tensor, Tensor], tuple[Tensor, Tensor] | None]) -> str:
    """Check ``fn(mu, var) -> (z_mean, z_var)``: factors ``(num_tasks, N, latent_dim)`` in, the
    product per task and latent dimension out: the book's equation of the product, which
    :func:`pearlkit.inference.product_of_gaussians` states."""
    generator = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 7, 5, generator=generator, dtype=torch.float64)
    var = torch.rand(3, 7, 5, generator=generator, dtype=torch.float64) + 0.1
    two_mu, two_var = torch.tensor([[[1.0], [3.0]]]), torch.tensor([[[1.0], [4.0]]])
    cases: list[Case] = [
        ("two factors N(1, 1) and N(3, 4): precisions add to 1.25, the mean is precision-weighted",
         lambda: (fn(two_mu, two_var), (torch.tensor([[1.4]]), torch.tensor([[0.8]])))),
        ("a single factor is its own product",
         lambda: (fn(mu[:, :1], var[:, :1]), (mu[:, 0], var[:, 0]))),
        ("3 tasks x 7 factors x 5 dimensions, against folding in one factor at a time",
         lambda: (fn(mu, var), _bayes_one_at_a_time(mu, var))),
        ("the same factors in reverse order give the same product",
         lambda: (fn(mu.flip(1), var.flip(1)), _bayes_one_at_a_time(mu, var))),
    ]
    return _run_cases("product_of_gaussians", cases)


def check_q_loss(fn: Callable[[Tensor, Tensor, Tensor], Tensor | None]) -> str:
    """Check ``fn(q1_pred, q2_pred, target) -> L_Q``, the critic's Bellman error summed over both
    Q functions, each a mean over the batch, as :func:`pearlkit.sac.q_loss` states it."""
    generator = torch.Generator().manual_seed(0)
    q1, q2, target = (torch.randn(64, generator=generator, dtype=torch.float64) for _ in range(3))
    mse = torch.nn.functional.mse_loss
    cases: list[Case] = [
        ("q1 = [1, 2], q2 = [0, 0], target = [0, 1]: (1 + 1) / 2 + (0 + 1) / 2 = 1.5",
         lambda: (fn(torch.tensor([1.0, 2.0]), torch.zeros(2), torch.tensor([0.0, 1.0])), torch.tensor(1.5))),
        ("both Q functions exact: no error", lambda: (fn(target, target.clone(), target), torch.tensor(0.0))),
        ("a batch of 64, against mse_loss(q1, y) + mse_loss(q2, y)",
         lambda: (fn(q1, q2, target), mse(q1, target) + mse(q2, target))),
    ]
    return _run_cases("q_loss", cases)
