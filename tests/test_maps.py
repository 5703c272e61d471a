import copy
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from conftest import SFREQ, PowerNet, modulated_alpha
from envcorr import InvalidInputError, band_envelopes, compute_maps, moving_average

BANDS = {
    "slow": (2.0, 5.0),
    "alpha": (8.0, 12.0),
    "beta": (18.0, 30.0),
    "gamma": (40.0, 60.0),
}
CH4 = ["C3", "Cz", "C4", "Pz"]


def test_known_answer_unit_tracks_alpha_power_at_one_channel():
    X = modulated_alpha(channel=2)
    net = PowerNet(n_chans=4, channel=2, band=(8.0, 12.0))
    ds = compute_maps(
        net,
        X,
        sfreq=SFREQ,
        ch_names=CH4,
        bands=BANDS,
        layers=["pool"],
        untrained_model=PowerNet(4, channel=0, band=(40.0, 60.0)),
        verbose=False,
    )
    assert int(ds.receptive_field.sel(layer="pool")) == 150
    r = ds.unit_corr.sel(network="trained").isel(unit=0)
    assert r.sel(band="alpha", channel="C4") > 0.9
    others = r.where((r.band != "alpha") | (r.channel != "C4"))
    assert np.nanmax(np.abs(others)) < 0.2
    # the untrained copy looks at another channel and band: nothing to track
    r0 = ds.unit_corr.sel(network="untrained", band="alpha", channel="C4").isel(unit=0)
    assert abs(float(r0)) < 0.2
    diff = ds.layer_mean_abs_corr_diff.sel(layer="pool")
    assert diff.sel(band="alpha", channel="C4") == diff.max()


def _direct(model, X, layer_fields, bands, y=None, class_field=None, X_env=None):
    """Unbatched reference: np.corrcoef over trial-concatenated samples.

    The envelopes are those of ``X_env`` (default ``X``), trial by trial.
    """
    X_env = X if X_env is None else X_env
    env2 = band_envelopes(X_env, SFREQ, bands=bands).astype(np.float64) ** 2
    acts = {}
    hooks = [
        dict(model.named_modules())[name].register_forward_hook(
            lambda m, i, o, name=name: acts.__setitem__(name, o.detach().numpy())
        )
        for name in layer_fields
    ]
    with torch.no_grad():
        model(torch.from_numpy(X))
    for h in hooks:
        h.remove()
    out = {}
    for name, field in layer_fields.items():
        a = acts[name].reshape(len(X), -1, acts[name].shape[2])  # (trial, unit, t)
        m = moving_average(env2, field)  # (band, trial, ch, t)
        flat_a = a.transpose(1, 0, 2).reshape(a.shape[1], -1)
        flat_m = m.transpose(0, 2, 1, 3).reshape(-1, flat_a.shape[1])
        out[name] = np.corrcoef(flat_a, flat_m)[: len(flat_a), len(flat_a) :]
    if y is not None:
        m = moving_average(env2, class_field)
        flat_m = m.transpose(0, 2, 1, 3).reshape(-1, len(X) * m.shape[-1])
        onehot = np.eye(y.max() + 1)[y][:, :, None].repeat(m.shape[-1], axis=2)
        flat_y = onehot.transpose(1, 0, 2).reshape(onehot.shape[1], -1)
        out["class"] = np.corrcoef(flat_m, flat_y)[: len(flat_m), len(flat_m) :]
    return out


def _deep4_maps(deep4, X, bands, layers, **kwargs):
    """compute_maps of the deep4 fixture's networks on 22 unnamed channels."""
    trained, untrained = deep4
    return compute_maps(
        trained,
        X,
        sfreq=SFREQ,
        ch_names=[f"E{i}" for i in range(22)],
        bands=bands,
        layers=layers,
        untrained_model=untrained,
        verbose=False,
        **kwargs,
    )


@pytest.mark.parametrize("batch_size", [3, 7])
def test_equals_direct_unbatched_numpy(deep4, batch_size):
    trained, untrained = deep4
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 22, 1125)).astype(np.float32)
    y = rng.integers(0, 4, 10)
    y[:4] = [0, 1, 2, 3]
    layers = ["pool_nonlin", "pool_nonlin_3", "final_layer.conv_classifier"]
    bands = {"alpha": (7.0, 13.0), "high_gamma": (71.0, 91.0)}
    ds = _deep4_maps(deep4, X, bands, layers, y=y, batch_size=batch_size)
    fields = dict(zip(ds.layer.values, ds.receptive_field.values, strict=True))
    assert list(fields.values()) == [12, 144, 1089]
    assert ds.attrs["class_field"] == 144  # deepest layer outside final_layer
    for net, model in (("trained", trained), ("untrained", untrained)):
        ref = _direct(model, X, fields, bands, y=y, class_field=144)
        for layer in layers:
            got = ds.unit_corr.sel(network=net).isel(unit=ds.unit_layer == layer)
            got = got.transpose("unit", "band", "channel").values.reshape(
                got.sizes["unit"], -1
            )
            np.testing.assert_allclose(got, ref[layer], atol=1e-6)
            mean_abs = np.abs(ref[layer]).mean(0).reshape(2, 22)
            np.testing.assert_allclose(
                ds.layer_mean_abs_corr.sel(network=net, layer=layer),
                mean_abs,
                atol=1e-6,
            )
    got = ds.class_corr.values.reshape(-1, 4)
    np.testing.assert_allclose(got, ref["class"], atol=1e-6)
    np.testing.assert_allclose(
        ds.layer_mean_corr_diff,
        ds.layer_mean_corr.sel(network="trained")
        - ds.layer_mean_corr.sel(network="untrained"),
    )


@pytest.mark.parametrize("batch_size", [1, 3, 10])
def test_chance_pairs_each_trial_with_the_envelopes_of_the_one_before(
    deep4, batch_size
):
    trained, untrained = deep4
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 22, 1125)).astype(np.float32)
    layers = ["pool_nonlin_2", "final_layer.conv_classifier"]
    bands = {"alpha": (7.0, 13.0), "beta": (13.0, 31.0)}
    ds = _deep4_maps(deep4, X, bands, layers, batch_size=batch_size, chance=True)
    fields = dict(zip(ds.layer.values, ds.receptive_field.values, strict=True))
    # trial i against trial i - 1; trial 0 against the last trial
    X_env = np.roll(X, 1, axis=0)
    floor = {}
    for net, model in (("trained", trained), ("untrained", untrained)):
        ref = _direct(model, X, fields, bands, X_env=X_env)
        for layer in layers:
            floor[net, layer] = np.abs(ref[layer]).mean(0).reshape(2, 22)
            np.testing.assert_allclose(
                ds.chance_layer_mean_abs_corr.sel(network=net, layer=layer),
                floor[net, layer],
                atol=1e-6,
            )
    mac = ds.layer_mean_abs_corr
    for layer in layers:
        np.testing.assert_allclose(
            ds.layer_mean_abs_corr_excess_diff.sel(layer=layer),
            (mac.sel(network="trained", layer=layer) - floor["trained", layer])
            - (mac.sel(network="untrained", layer=layer) - floor["untrained", layer]),
            atol=2e-6,
        )
    assert ds.chance_layer_mean_abs_corr.dims == ("network", "layer", "band", "channel")
    assert json.loads(ds.attrs["config"])["chance"] is True


def test_chance_of_identical_trials_is_the_correlation_itself(small):
    net, X = small
    X = np.repeat(X[:1], 5, axis=0)
    ds = _run(net, X, chance=True, untrained_model=PowerNet(4, 0, (40.0, 60.0)))
    np.testing.assert_allclose(
        ds.chance_layer_mean_abs_corr, ds.layer_mean_abs_corr, atol=1e-6
    )
    np.testing.assert_allclose(ds.layer_mean_abs_corr_excess_diff, 0.0, atol=1e-6)


def test_chance_is_low_where_a_unit_tracks_its_own_trial():
    X = modulated_alpha(channel=2)
    net = PowerNet(n_chans=4, channel=2, band=(8.0, 12.0))
    ds = _run(net, X, chance=True, untrained_model=PowerNet(4, 0, (40.0, 60.0)))
    unit0 = ds.unit_corr.sel(network="trained", band="alpha", channel="C4")
    assert float(unit0.isel(unit=0)) > 0.9
    excess = ds.layer_mean_abs_corr_excess_diff.sel(
        layer="pool", band="alpha", channel="C4"
    )
    assert float(excess) > 0.4
    # without chance=True the variables are absent
    plain = _run(net, X)
    assert "chance_layer_mean_abs_corr" not in plain
    assert "layer_mean_abs_corr_excess_diff" not in plain


def test_result_layout(deep4):
    X = modulated_alpha(n_trials=6, n_chans=22, n_times=1125)
    ch = [
        "Fz",
        "FC3",
        "FC1",
        "FCz",
        "FC2",
        "FC4",
        "C5",
        "C3",
        "C1",
        "Cz",
        "C2",
        "C4",
        "C6",
        "CP3",
        "CP1",
        "CPz",
        "CP2",
        "CP4",
        "P1",
        "Pz",
        "P2",
        "POz",
    ]
    ds = compute_maps(
        deep4[0],
        X,
        sfreq=SFREQ,
        ch_names=ch,
        y=np.array([0, 1, 2, 0, 1, 2]),
        class_names=["left", "right", "feet"],
        untrained_model=deep4[1],
        verbose=False,
    )
    assert list(ds.network.values) == ["trained", "untrained"]
    assert ds.unit_corr.dims == ("network", "band", "channel", "unit")
    assert ds.sizes["unit"] == 25 + 50 + 100 + 200 + 4
    assert list(ds.layer.values) == [
        "pool_nonlin",
        "pool_nonlin_2",
        "pool_nonlin_3",
        "pool_nonlin_4",
        "final_layer.conv_classifier",
    ]
    assert list(ds.receptive_field.values) == [12, 45, 144, 441, 1089]
    assert list(ds.band.values) == [
        "delta",
        "theta",
        "alpha",
        "beta",
        "low_gamma",
        "high_gamma",
    ]
    assert list(ds.band_high.values) == [4, 8, 13, 31, 71, 91]
    assert ds.class_corr.dims == ("band", "channel", "class")
    assert list(ds["class"].values) == ["left", "right", "feet"]
    assert ds.attrs["class_field"] == 441
    assert (
        ds.unit_layer.values[25] == "pool_nonlin_2" and ds.unit_in_layer.values[25] == 0
    )
    # positions from the standard montage, in metres
    assert 0.02 < abs(float(ds.ch_x.sel(channel="C3"))) < 0.1
    assert float(ds.ch_x.sel(channel="C3")) < 0 < float(ds.ch_x.sel(channel="C4"))
    for attr in (
        "sfreq",
        "n_trials",
        "n_times",
        "square",
        "model_name",
        "versions",
        "config",
    ):
        assert attr in ds.attrs
    assert ds.attrs["untrained_source"] == "given"


def test_square_after_changes_only_the_averaging_order():
    X = modulated_alpha(n_trials=8)
    net = PowerNet(n_chans=4, channel=2, band=(8.0, 12.0))
    kw = dict(
        sfreq=SFREQ,
        ch_names=CH4,
        bands=BANDS,
        layers=["pool"],
        untrained_model=net,
        verbose=False,
    )
    before = compute_maps(net, X, **kw)
    after = compute_maps(net, X, square="after", **kw)
    assert after.attrs["square"] == "after"
    r_b = float(before.unit_corr.sel(network="trained", band="alpha", channel="C4")[0])
    r_a = float(after.unit_corr.sel(network="trained", band="alpha", channel="C4")[0])
    assert r_a != r_b and abs(r_a - r_b) < 0.05


def test_missing_baseline_is_reinitialised_with_a_warning(caplog):
    X = modulated_alpha(n_trials=4)
    net = PowerNet(n_chans=4, channel=2, band=(8.0, 12.0))
    with caplog.at_level("WARNING", logger="envcorr"):
        ds = compute_maps(
            net,
            X,
            sfreq=SFREQ,
            ch_names=CH4,
            bands=BANDS,
            layers=["pool"],
            verbose="WARNING",
        )
    assert ds.attrs["untrained_source"] == "reinitialized"
    assert "freshly initialised" in caplog.text


def test_constant_channel_gives_nan_and_one_warning():
    X = modulated_alpha(n_trials=6)
    X[:, 1] = 3e-6
    net = PowerNet(n_chans=4, channel=2, band=(8.0, 12.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = compute_maps(
            net,
            X,
            sfreq=SFREQ,
            ch_names=CH4,
            bands=BANDS,
            y=np.arange(6) % 2,
            layers=["pool"],
            untrained_model=net,
            verbose=False,
        )
    ours = [w for w in caught if "constant" in str(w.message)]
    assert len(ours) == 1 and "Cz" in str(ours[0].message)
    assert np.isnan(ds.unit_corr.sel(channel="Cz")).all()
    assert np.isnan(ds.class_corr.sel(channel="Cz")).all()
    assert np.isfinite(ds.unit_corr.sel(channel="C4")).all()


@pytest.fixture
def small():
    X = modulated_alpha(n_trials=4)
    return PowerNet(n_chans=4, channel=2, band=(8.0, 12.0)), X


def _run(net, X, **kw):
    args = dict(
        sfreq=SFREQ,
        ch_names=CH4,
        bands=BANDS,
        layers=["pool"],
        untrained_model=net,
        verbose=False,
    )
    args.update(kw)
    return compute_maps(net, X, **args)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(bands={"hg": (71.0, 125.0)}), r"'bands'.*125 Hz is at or above Nyquist"),
        (dict(bands={"a": (12.0, 8.0)}), r"'bands'.*low edge 12 Hz >= high edge 8 Hz"),
        (
            dict(layers=["nope"]),
            r"'layers'.*unknown.*Valid names are: select, bandpass",
        ),
        (dict(y=np.array([0, 1, 0])), r"'y'.*3 labels.*for 4 trials"),
        (
            dict(y=np.array([1, 1, 1, 1])),
            r"'y'.*all 4 trials are of one class \('1'\).*at least two classes.*"
            r"y=None to skip",
        ),
        (
            dict(y=np.array(["left"] * 4), class_names=["left", "right"]),
            r"'y'.*one class \('left'\)",
        ),
        (dict(y=np.array([0.0, 1.0, np.nan, 0.0])), r"'y'.*NaN or Inf label"),
        (dict(y=np.array([0.0, 1.0, 0.5, 0.0])), r"'y'.*whole numbers"),
        (dict(ch_names=["a", "b"]), r"'ch_names'.*2 names for 4 channels"),
        (dict(square="middle"), r"'square'.*'before', 'after'"),
        (dict(filter_method="fir"), r"'filter_method'.*'auto', 'fft', 'sosfiltfilt'"),
        (dict(device="cuda:7"), r"'device'"),
        (dict(sfreq=-1), r"'sfreq'"),
        (dict(chance="yes"), r"'chance'"),
        (dict(untrained_model=[]), r"'untrained_model'.*non-empty list"),
        (dict(untrained_model=["net"]), r"'untrained_model'"),
        (
            dict(untrained_model=[nn.Conv1d(4, 1, 1)]),
            r"'untrained_model'.*entry 0 differ",
        ),
    ],
)
def test_bad_input_names_the_parameter(small, change, match):
    with pytest.raises(InvalidInputError, match=match):
        _run(*small, **change)


def test_chance_needs_two_trials(small):
    net, X = small
    with pytest.raises(InvalidInputError, match=r"'chance'.*single trial.*=False"):
        _run(net, X[:1], chance=True)


def test_whole_float_labels_count_as_class_indices(small):
    net, X = small
    y = np.array([0, 1, 1, 0])
    as_int = _run(net, X, y=y, class_names=["left", "right"])
    as_float = _run(net, X, y=y.astype(float), class_names=["left", "right"])
    np.testing.assert_array_equal(as_float.class_corr, as_int.class_corr)
    assert list(as_float["class"].values) == ["left", "right"]


def test_default_bands_adapt_to_a_low_sampling_rate(small, caplog):
    net, X = small
    with caplog.at_level("WARNING", logger="envcorr"):
        ds = _run(net, X, sfreq=150.0, bands=None, verbose="WARNING")
    assert list(ds.band.values) == ["delta", "theta", "alpha", "beta", "low_gamma"]
    assert "default band high_gamma (71-91 Hz)" in caplog.text
    assert "Nyquist frequency (75 Hz for sfreq=150 Hz)" in caplog.text
    with pytest.raises(InvalidInputError, match=r"'bands'.*91 Hz is at or above"):
        _run(net, X, sfreq=150.0, bands={"high_gamma": (71.0, 91.0)})


def test_nan_in_X(small):
    net, X = small
    X = X.copy()
    X[2, 0, 5] = np.inf
    with pytest.raises(InvalidInputError, match=r"'X'.*NaN or Inf"):
        _run(net, X)


def test_trials_shorter_than_a_receptive_field(deep4):
    X = np.zeros((2, 22, 600), np.float32)
    with pytest.raises(InvalidInputError, match=r"'X'.*600 samples are shorter.*1089"):
        compute_maps(
            deep4[0],
            X,
            sfreq=SFREQ,
            ch_names=[str(i) for i in range(22)],
            untrained_model=deep4[1],
            verbose=False,
        )


def test_wrong_channel_count_for_the_model(deep4):
    X = np.zeros((2, 21, 1125), np.float32)
    with pytest.raises(InvalidInputError, match=r"'X'.*21 channels.*expects 22"):
        compute_maps(
            deep4[0],
            X,
            sfreq=SFREQ,
            ch_names=[str(i) for i in range(21)],
            verbose=False,
        )


def test_several_baselines_in_one_pass_equal_separate_calls(deep4):
    trained, untrained = deep4
    torch.manual_seed(5)
    extra = copy.deepcopy(untrained)
    for module in extra.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 22, 1125)).astype(np.float32)
    y = np.arange(6) % 4
    kw = dict(sfreq=250.0, ch_names=[f"E{i}" for i in range(22)], y=y, verbose=False)
    one_pass = compute_maps(trained, X, untrained_model=[untrained, extra], **kw)
    assert list(one_pass.network.values) == ["trained", "untrained", "untrained_1"]
    alone = compute_maps(trained, X, untrained_model=untrained, **kw)
    extra_alone = compute_maps(extra, X, untrained_model=untrained, **kw)
    for var in ("unit_corr", "layer_mean_abs_corr", "layer_mean_corr"):
        np.testing.assert_allclose(
            one_pass[var].sel(network=["trained", "untrained"]), alone[var], atol=1e-6
        )
        np.testing.assert_allclose(
            one_pass[var].sel(network="untrained_1"),
            extra_alone[var].sel(network="trained"),
            atol=1e-6,
        )
    np.testing.assert_allclose(
        one_pass.layer_mean_abs_corr_diff, alone.layer_mean_abs_corr_diff, atol=1e-6
    )
    np.testing.assert_allclose(one_pass.class_corr, alone.class_corr, atol=1e-6)


def _global_state():
    return {
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state()[1].copy(),  # noqa: NPY002
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "threads": torch.get_num_threads(),
        "grad": torch.is_grad_enabled(),
        "umask": Path("/proc/self/status").read_text().split("Umask:")[1].split()[0],
        "environ": dict(os.environ),
    }


def test_no_global_state_and_no_user_module_changes(deep4):
    trained, untrained = deep4
    trained.train()  # the user's own mode must survive
    before = _global_state()
    classes = [type(m) for m in trained.modules()]
    state = copy.deepcopy(trained.state_dict())
    X = np.random.default_rng(1).standard_normal((3, 22, 1125)).astype(np.float32)
    kw = dict(sfreq=250.0, ch_names=[f"E{i}" for i in range(22)], verbose=False)
    compute_maps(trained, X, **kw)  # re-initialised baseline: seeded locally
    compute_maps(trained, X, untrained_model=untrained, **kw)
    after = _global_state()
    assert torch.equal(before.pop("torch_rng"), after.pop("torch_rng"))
    assert np.array_equal(before.pop("numpy_rng"), after.pop("numpy_rng"))
    assert before == after
    assert [type(m) for m in trained.modules()] == classes
    assert all(m.training for m in trained.modules())
    for key, value in trained.state_dict().items():
        assert torch.equal(value, state[key]), key
    trained.eval()
