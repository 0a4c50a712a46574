"""The fill-in exercises' checks: they pass pearlkit's own functions, name the first failing case
of a wrong one, and say "not written yet" for the blank the book leaves."""
from pearlkit.exercises import check_product_of_gaussians, check_q_loss
from pearlkit.inference import product_of_gaussians
from pearlkit.sac import q_loss


def test_pearlkits_own_functions_pass():
    assert check_product_of_gaussians(product_of_gaussians) == "product_of_gaussians: all 4 cases pass."
    assert check_q_loss(q_loss) == "q_loss: all 3 cases pass."


def test_the_blank_is_not_written_yet():
    assert "not written yet" in check_product_of_gaussians(lambda mu, var: None)
    assert "not written yet" in check_q_loss(lambda q1, q2, target: None)


def test_common_mistakes_are_caught_and_named():
    # adding variances instead of precisions
    report = check_product_of_gaussians(lambda mu, var: (mu.mean(1), var.sum(1)))
    assert report.startswith("product_of_gaussians: case 1 of 4 fails, two factors") and "expected" in report
    # a plain mean of the means, with the right variance: caught by the precision-weighted mean
    right_var = lambda var: 1 / (1 / var).sum(1)
    assert "case 1 of 4 fails" in check_product_of_gaussians(lambda mu, var: (mu.mean(1), right_var(var)))
    # one Q function only, or a sum over the batch instead of a mean
    assert "case 1 of 3 fails" in check_q_loss(lambda q1, q2, y: ((q1 - y) ** 2).mean())
    assert "case 1 of 3 fails" in check_q_loss(lambda q1, q2, y: ((q1 - y) ** 2).sum() + ((q2 - y) ** 2).sum())
    # the wrong shape
    assert "fails" in check_q_loss(lambda q1, q2, y: ((q1 - y) ** 2 + (q2 - y) ** 2).reshape(1, -1).mean(1))
