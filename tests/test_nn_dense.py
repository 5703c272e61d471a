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
