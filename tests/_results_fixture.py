"""A small but realistic results Dataset, laid out as in docs/results-format.md.

The values are synthetic: each unit of the trained network tracks the band power
at one motor-cortex site (C3, C4 or Cz) with a strength that grows with depth,
the untrained units do so weakly, and the envelope–class correlation shows the
motor-imagery pattern (alpha/beta power decreases over the hemisphere
contralateral to the imagined hand and around the vertex for the feet, high
gamma increases with the same topography).
"""

from __future__ import annotations

import json
import warnings

import mne
import numpy as np
import xarray as xr

CH_NAMES = (
    "Fz FC3 FC1 FCz FC2 FC4 C5 C3 C1 Cz C2 C4 C6 CP3 CP1 CPz CP2 CP4 P1 Pz P2 POz"
).split()
CLASSES = ["left_hand", "right_hand", "feet", "tongue"]
BANDS = {"alpha": (7.0, 13.0), "beta": (13.0, 31.0), "high_gamma": (71.0, 91.0)}
# (name, receptive field in samples, units): Deep4's blocks, fewer units
DEEP4_LAYERS = [
    ("pool_nonlin", 12, 5),
    ("pool_nonlin_2", 45, 6),
    ("pool_nonlin_3", 144, 8),
    ("pool_nonlin_4", 441, 10),
    ("final_layer.conv_classifier", 522, 4),
]
SFREQ = 250.0
N_TIMES = 1125


def channel_positions(ch_names: list[str] = CH_NAMES) -> np.ndarray:
    """Head-frame positions (metres) of ``ch_names`` from mne's standard_1005."""
    # mne >= 1.13 renames the montage (same positions): keep the name, mute it
    with warnings.catch_warnings(), mne.utils.use_log_level("error"):
        warnings.filterwarnings(
            "ignore", message="Montage name", category=FutureWarning
        )
        montage = mne.channels.make_standard_montage("standard_1005")
    info = mne.create_info(list(ch_names), SFREQ, "eeg")
    info.set_montage(montage)
    return np.array([ch["loc"][:3] for ch in info["chs"]])


def make_results(
    *,
    n_layers: int = 3,
    bands: dict[str, tuple[float, float]] | None = None,
    classes: bool = True,
    training: bool = True,
    positions: bool = True,
    chance: bool = False,
    seed: int = 0,
) -> xr.Dataset:
    """Build a results Dataset.

    Parameters
    ----------
    n_layers : int
        Number of Deep4 layers (1 to 5), from the first pooling block on.
    bands : dict | None
        ``{name: (low, high)}``; default alpha, beta and high gamma.
    classes : bool
        Include ``class_corr``, ``n_trials_per_class`` and the ``class`` dim.
    training : bool
        Include ``confusion_matrix`` and the attributes added by ``envcorr run``.
    positions : bool
        Include the ``ch_x``, ``ch_y``, ``ch_z`` coordinates.
    chance : bool
        Include ``chance_layer_mean_abs_corr`` (higher for the trained network
        in deeper layers, as measured) and ``layer_mean_abs_corr_excess_diff``.
    seed : int
        Seed of the random generator.
    """
    rng = np.random.default_rng(seed)
    bands = dict(BANDS if bands is None else bands)
    layers = DEEP4_LAYERS[:n_layers]
    band_names = list(bands)
    n_ch = len(CH_NAMES)
    pos = channel_positions()

    def blob(name: str, width: float = 0.035) -> np.ndarray:
        d2 = ((pos - pos[CH_NAMES.index(name)]) ** 2).sum(axis=1)
        return np.exp(-d2 / (2 * width**2))

    sites = np.stack([blob("C3"), blob("C4"), blob("Cz")])  # (3, n_ch)
    band_gain = np.array(
        [0.6 if "gamma" in b else 1.0 for b in band_names]
    )  # gamma is tracked less

    unit_layer, unit_in_layer, blocks = [], [], []
    for depth, (name, _, n_units) in enumerate(layers):
        strength = 0.15 + 0.15 * depth
        corr = np.empty((2, len(band_names), n_ch, n_units))
        for u in range(n_units):
            site = sites[rng.integers(3)]
            sign = rng.choice([-1.0, 1.0])
            for net, scale in enumerate((strength, 0.25 * strength)):
                amp = scale * band_gain[:, None] * rng.uniform(0.6, 1.0)
                corr[net, :, :, u] = sign * amp * site[None, :]
        corr += rng.normal(0.0, 0.03, corr.shape)
        blocks.append(np.clip(corr, -1.0, 1.0))
        unit_layer += [name] * n_units
        unit_in_layer += list(range(n_units))
    unit_corr = np.concatenate(blocks, axis=-1)
    unit_layer_arr = np.array(unit_layer)

    layer_names = [name for name, _, _ in layers]
    mean = np.stack(
        [unit_corr[..., unit_layer_arr == n].mean(axis=-1) for n in layer_names],
        axis=1,
    )  # (network, layer, band, channel)
    mean_abs = np.stack(
        [
            np.abs(unit_corr[..., unit_layer_arr == n]).mean(axis=-1)
            for n in layer_names
        ],
        axis=1,
    )

    coords: dict = {
        "network": ["trained", "untrained"],
        "layer": layer_names,
        "unit": np.arange(len(unit_layer)),
        "band": band_names,
        "channel": CH_NAMES,
        "band_low": ("band", [lo for lo, _ in bands.values()]),
        "band_high": ("band", [hi for _, hi in bands.values()]),
        "receptive_field": ("layer", [rf for _, rf, _ in layers]),
        "layer_n_times": ("layer", [N_TIMES - rf + 1 for _, rf, _ in layers]),
        "layer_n_units": ("layer", [n for _, _, n in layers]),
        "unit_layer": ("unit", unit_layer),
        "unit_in_layer": ("unit", unit_in_layer),
    }
    if positions:
        coords.update(
            ch_x=("channel", pos[:, 0]),
            ch_y=("channel", pos[:, 1]),
            ch_z=("channel", pos[:, 2]),
        )
    data_vars: dict = {
        "unit_corr": (("network", "band", "channel", "unit"), unit_corr),
        "layer_mean_corr": (("network", "layer", "band", "channel"), mean),
        "layer_mean_abs_corr": (("network", "layer", "band", "channel"), mean_abs),
        "layer_mean_corr_diff": (("layer", "band", "channel"), mean[0] - mean[1]),
        "layer_mean_abs_corr_diff": (
            ("layer", "band", "channel"),
            mean_abs[0] - mean_abs[1],
        ),
    }
    if chance:
        depth = np.arange(len(layer_names))[:, None, None]
        floor = np.stack([0.01 + 0.01 * depth, 0.01 + 0.002 * depth])
        floor = floor + rng.uniform(0.0, 0.002, (2, *mean_abs.shape[1:]))
        excess = mean_abs - floor
        data_vars["chance_layer_mean_abs_corr"] = (
            ("network", "layer", "band", "channel"),
            floor,
        )
        data_vars["layer_mean_abs_corr_excess_diff"] = (
            ("layer", "band", "channel"),
            excess[0] - excess[1],
        )
    n_trials = 288
    if classes:
        coords["class"] = CLASSES
        # contralateral desynchronisation: left hand -> C4, right hand -> C3
        patterns = np.stack([sites[1], sites[0], sites[2], -0.3 * sites[2]])
        sign = np.array([1.0 if "gamma" in b else -1.0 for b in band_names])
        size = np.array([0.08 if "gamma" in b else 0.25 for b in band_names])
        class_corr = (sign * size)[:, None, None] * patterns.T[None, :, :]
        class_corr = class_corr + rng.normal(0.0, 0.01, class_corr.shape)
        data_vars["class_corr"] = (("band", "channel", "class"), class_corr)
        data_vars["n_trials_per_class"] = (("class",), np.full(4, n_trials // 4))

    attrs = {
        "sfreq": SFREQ,
        "n_trials": n_trials,
        "n_times": N_TIMES,
        "square": "before",
        "class_field": layers[-1][1],
        "model_name": "Deep4Net",
        "untrained_source": "given",
        "filtering": "continuous",
        "versions": json.dumps(
            {
                "envcorr": "0.1.0",
                "numpy": np.__version__,
                "mne": mne.__version__,
                "xarray": xr.__version__,
            }
        ),
        "config": json.dumps(
            {
                "dataset": "BNCI2014_001",
                "subject": 1,
                "model": {"name": "Deep4Net", "final_conv_length": 2},
                "bands": {k: list(v) for k, v in bands.items()},
                "layers": layer_names,
                "square": "before",
                "train": {"n_epochs": 30, "lr": 0.01, "batch_size": 64},
                "seed": 20170101,
            }
        ),
        "created": "2025-01-01T12:00:00+00:00",
    }
    if training:
        coords["true_class"] = CLASSES
        coords["predicted_class"] = CLASSES
        cm = np.array(
            [[52, 12, 4, 4], [10, 54, 4, 4], [3, 3, 55, 11], [5, 4, 12, 51]],
        )
        data_vars["confusion_matrix"] = (("true_class", "predicted_class"), cm)
        attrs.update(
            dataset="BNCI2014_001",
            subject="1",
            train_accuracy=0.934,
            test_accuracy=float(np.trace(cm) / cm.sum()),
            test_session="1test",
            n_epochs=30,
            seed=20170101,
        )
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
