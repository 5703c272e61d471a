import numpy as np
import pytest
import xarray as xr

from conftest import SFREQ, PowerNet, modulated_alpha
from envcorr import InvalidInputError, compute_maps, load_maps, save_maps


@pytest.fixture(scope="module")
def maps():
    X = modulated_alpha(n_trials=6)
    net = PowerNet(n_chans=4, channel=2, band=(8.0, 12.0))
    return compute_maps(
        net,
        X,
        sfreq=SFREQ,
        ch_names=["C3", "Cz", "C4", "Pz"],
        y=np.arange(6) % 3,
        class_names=["a", "b", "c"],
        layers=["pool", "bandpass"],
        bands={"alpha": (8.0, 12.0), "beta": (18.0, 30.0)},
        untrained_model=net,
        verbose=False,
    )


def test_round_trip_preserves_everything(maps, tmp_path):
    path = save_maps(maps, tmp_path / "maps.nc")
    back = load_maps(path)
    xr.testing.assert_identical(back, maps)
    assert back.attrs == maps.attrs
    for name in maps.variables:
        assert back[name].attrs == maps[name].attrs
    assert [p.name for p in tmp_path.iterdir()] == ["maps.nc"]  # no temporary left


def test_failed_write_leaves_no_file(maps, tmp_path, monkeypatch):
    def boom(self, path, **kw):
        open(path, "wb").write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        save_maps(maps, tmp_path / "maps.nc")
    assert list(tmp_path.iterdir()) == []


def test_bad_paths(maps, tmp_path):
    with pytest.raises(InvalidInputError, match="'path'.*does not exist"):
        save_maps(maps, tmp_path / "missing" / "maps.nc")
    save_maps(maps, tmp_path / "maps.nc")
    with pytest.raises(InvalidInputError, match="'path'.*already exists.*overwrite"):
        save_maps(maps, tmp_path / "maps.nc", overwrite=False)
    with pytest.raises(InvalidInputError, match="'path'.*file not found"):
        load_maps(tmp_path / "nothing.nc")
    (tmp_path / "junk.nc").write_text("not netcdf")
    with pytest.raises(
        InvalidInputError, match="'path'.*could not read.*as a results file"
    ):
        load_maps(tmp_path / "junk.nc")
    xr.Dataset({"x": ("a", [1, 2])}).to_netcdf(tmp_path / "other.nc", engine="h5netcdf")
    with pytest.raises(InvalidInputError, match="not an envcorr results file"):
        load_maps(tmp_path / "other.nc")
