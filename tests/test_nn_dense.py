"""Tests of envcorr.nn.dense: strides replaced by dilations."""

import torch
from braindecode.models import Deep4Net
from torch import nn

from envcorr import make_dense, receptive_fields
from envcorr.nn.dense import densify_, has_strides


def test_make_dense_plain_module_and_leaves_input_alone():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv1d(2, 4, 5), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(4, 3, 3), nn.ReLU()
    )
    dense = make_dense(net)
    assert net[2].stride == 2  # original untouched
    # conv 5 -> 5, pool 2 -> 6, conv 3 with dilation 2 -> 10
    assert receptive_fields(dense, 64, ["2", "4"], n_chans=2) == {"2": 6, "4": 10}


def test_braindecode_models_use_their_own_conversion():
    net = Deep4Net(n_chans=3, n_outputs=2, n_times=600, final_conv_length=2)
    assert has_strides(net)
    dense = make_dense(net)
    assert has_strides(net) and not has_strides(dense)
    reference = Deep4Net(n_chans=3, n_outputs=2, n_times=600, final_conv_length=2)
    reference.to_dense_prediction_model()
    assert [getattr(m, "dilation", None) for m in dense.modules()] == [
        getattr(m, "dilation", None) for m in reference.modules()
    ]


def test_densify_works_in_place_and_skips_dense_networks():
    net = nn.Sequential(nn.Conv1d(1, 1, 3, stride=2), nn.Conv1d(1, 1, 3))
    assert densify_(net) is net
    assert net[0].stride == (1,) and net[1].dilation == (2,)
    dense = nn.Sequential(nn.Conv1d(1, 1, 3))
    assert make_dense(dense) is not dense and not has_strides(dense)
    torch.testing.assert_close(make_dense(dense)[0].weight, dense[0].weight)


def test_dilated_convolutions_keep_their_dilation_times_the_strides():
    # a TCN-like stack: a strided convolution, then one dilated by 3; braindecode
    # models with own dilations (EEGTCNet, ATCNet) take this path too
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv1d(2, 4, 3, stride=2), nn.ELU(), nn.Conv1d(4, 3, 3, dilation=3)
    )
    dense = make_dense(net)
    assert dense[0].stride == (1,) and dense[2].dilation == (6,)
    x = torch.randn(2, 2, 50)
    with torch.no_grad():
        # every second dense output is an output of the strided network
        torch.testing.assert_close(dense(x)[..., ::2], net(x))


def test_braindecode_models_with_own_dilations_are_converted():
    from braindecode.models import EEGTCNet

    net = EEGTCNet(n_chans=3, n_outputs=2, n_times=600, sfreq=250)
    own = {n: m.dilation for n, m in net.named_modules() if hasattr(m, "dilation")}
    assert max(max(d) if isinstance(d, tuple) else d for d in own.values()) > 1
    dense = make_dense(net)  # braindecode's conversion would refuse
    assert not has_strides(dense)
