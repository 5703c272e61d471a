"""Tests of envcorr.training.batchnorm: statistics that fit the eval-mode network."""

import copy

import pytest
import torch

from _training_fixtures import make_trials, tiny_model, tiny_train
from envcorr._utils.check import InvalidInputError
from envcorr.training import recalibrate_batchnorm


@pytest.mark.slow
def test_recalibrate_batchnorm_matches_eval_statistics():
    # Trained with dropout, the running statistics of the last batch norm do not
    # fit the eval-mode network; after recalibration they are the eval-mode
    # statistics of the calibration data (one batch, so up to the biased versus
    # unbiased variance used by the earlier batch norms).
    res = tiny_train("deep4", n_epochs=2, recalibrate_bn=False)
    model = res.model
    trials = make_trials(24, seed=0)
    bn = model.bnorm_4
    seen = {}
    handle = bn.register_forward_hook(lambda m, i, o: seen.update(x=i[0]))

    def eval_stats():
        model.eval()
        with torch.no_grad():
            model(torch.from_numpy(trials.X) * 1e6)
        return seen["x"].mean(dim=(0, 2, 3)), seen["x"].var(dim=(0, 2, 3))

    try:
        _, var = eval_stats()
        assert (bn.running_var / var).min() > 1.5  # dropout inflated them
        recalibrate_batchnorm(model, trials.X, batch_size=24)
        assert not model.training
        assert bn.momentum == 0.1
        mean, var = eval_stats()
    finally:
        handle.remove()
    torch.testing.assert_close(bn.running_mean, mean, rtol=1e-2, atol=1e-3)
    torch.testing.assert_close(bn.running_var, var, rtol=1e-2, atol=1e-3)


def test_recalibrate_batchnorm_averages_batches_and_restores_the_rest():
    model = tiny_model("deep4", seed=0)  # untrained, training mode
    model.drop_2.eval()  # one module in another mode than the rest
    model.bnorm_2.momentum = 0.3
    modes = {name: m.training for name, m in model.named_modules()}
    momenta = {name: m.momentum for name, m in model.named_modules() if "bnorm" in name}
    params = copy.deepcopy(dict(model.named_parameters()))
    X = make_trials(12, seed=4).X

    # The first batch norm sees no dropout: its inputs per batch of 4, in eval mode.
    batches = []
    handle = model.bnorm.register_forward_hook(lambda m, i, o: batches.append(i[0]))
    try:
        recalibrate_batchnorm(model, X, batch_size=4)
    finally:
        handle.remove()

    assert len(batches) == 3
    # Every batch counts equally: the plain average of the batch statistics.
    means = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches])
    variances = torch.stack([b.var(dim=(0, 2, 3)) for b in batches])
    torch.testing.assert_close(model.bnorm.running_mean, means.mean(dim=0))
    torch.testing.assert_close(model.bnorm.running_var, variances.mean(dim=0))
    assert int(model.bnorm.num_batches_tracked) == 3
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert {n: m.momentum for n, m in model.named_modules() if "bnorm" in n} == momenta
    for name, value in model.named_parameters():
        assert torch.equal(value, params[name]), name


def test_recalibrate_batchnorm_without_batch_norm_is_a_no_op():
    net = torch.nn.Sequential(torch.nn.Conv1d(3, 2, 5))
    state = copy.deepcopy(net.state_dict())
    assert recalibrate_batchnorm(net, make_trials(4).X) is None
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())


def test_recalibrate_batchnorm_bad_input():
    model = tiny_model("deep4")
    X = make_trials(4).X
    with pytest.raises(InvalidInputError, match="'X'.*3 dimensions"):
        recalibrate_batchnorm(model, X[0])
    with pytest.raises(InvalidInputError, match="'batch_size'"):
        recalibrate_batchnorm(model, X, batch_size=0)
    with pytest.raises(InvalidInputError, match="'input_scale'"):
        recalibrate_batchnorm(model, X, input_scale=0)
    with pytest.raises(InvalidInputError, match="'model'"):
        recalibrate_batchnorm(None, X)
