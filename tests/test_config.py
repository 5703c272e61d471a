"""Tests of envcorr.config: options, their defaults, TOML files and bands."""

import pytest

from envcorr import DEFAULT_BANDS, InvalidInputError, filterbank_bands
from envcorr.config import RunConfig, load_config, parse_bands


def test_defaults_are_the_quick_start():
    config = RunConfig()
    assert (config.data, config.model, config.epochs) == ("simulated", "deep4", 20)
    assert config.to_dict()["formats"] == ["png"]
    assert RunConfig().formats is not config.formats  # no shared mutable default


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("default", DEFAULT_BANDS),
        ("filterbank", filterbank_bands()),
        (
            "alpha=7-13, high_gamma=71-91",
            {"alpha": (7.0, 13.0), "high_gamma": (71.0, 91.0)},
        ),
        ({"a": [1, 4]}, {"a": (1.0, 4.0)}),
    ],
)
def test_parse_bands(spec, expected):
    assert parse_bands(spec) == expected


@pytest.mark.parametrize("spec", ["alpha:7-13", "alpha=7", "alpha=a-b", "=,="])
def test_unreadable_bands_name_the_option(spec):
    with pytest.raises(InvalidInputError, match=r"'bands'.*NAME=LOW-HIGH"):
        parse_bands(spec)


def test_toml_file_with_or_without_a_table(tmp_path):
    plain = tmp_path / "a.toml"
    plain.write_text('epochs = 3\nbands = "alpha=7-13"\n')
    assert load_config(plain) == {"epochs": 3, "bands": "alpha=7-13"}
    table = tmp_path / "b.toml"
    table.write_text("[envcorr]\nseed = 4\n")
    assert load_config(table) == {"seed": 4}


def test_bad_toml_files_name_the_option(tmp_path):
    with pytest.raises(InvalidInputError, match="'config'.*not found"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("epochs = = 3\n")
    with pytest.raises(InvalidInputError, match="'config'.*not valid TOML"):
        load_config(broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("epocs = 3\n")
    with pytest.raises(InvalidInputError, match=r"unknown option\(s\) \['epocs'\]"):
        load_config(unknown)
