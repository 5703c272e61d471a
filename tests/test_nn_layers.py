"""Tests of envcorr.nn.layers: the layers analysed by default."""

import pytest
from braindecode.models import Deep4Net, ShallowFBCSPNet
from torch import nn

from envcorr import InvalidInputError
from envcorr.nn.layers import default_layers


def test_block_outputs_and_classifier_of_braindecode_networks():
    deep4 = Deep4Net(n_chans=22, n_outputs=4, n_times=1125, final_conv_length=2)
    assert default_layers(deep4) == [
        "pool_nonlin",
        "pool_nonlin_2",
        "pool_nonlin_3",
        "pool_nonlin_4",
        "final_layer.conv_classifier",
    ]
    names = dict(deep4.named_modules())
    assert all(layer in names for layer in default_layers(deep4))
    shallow = ShallowFBCSPNet(n_chans=22, n_outputs=4, n_times=1125)
    assert default_layers(shallow) == ["pool_nonlin_exp", "final_layer.conv_classifier"]


def test_other_networks_name_their_layers():
    net = nn.Sequential(nn.Conv1d(2, 3, 5), nn.ReLU())
    with pytest.raises(InvalidInputError, match=r"'layers'.*Sequential.*0, 1"):
        default_layers(net)
