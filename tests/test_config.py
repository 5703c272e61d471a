"""Tests of envcorr.config: options, their defaults, TOML files and bands."""

import pytest

from envcorr import InvalidInputError
from envcorr.config import (
    BRAINDECODE_MODELS,
    CROPPED_MODELS,
    DENSE_MODELS,
    MODEL_ALIASES,
    MODEL_NAMES,
    RunConfig,
    check_output_dir,
    check_writable_dir,
    expand_data,
    load_config,
    parse_bands,
    parse_events,
    remove_created,
    resolve_model_name,
)


def test_defaults_are_the_quick_start():
    config = RunConfig()
    assert (config.data, config.model, config.epochs) == ("simulated", "deep4", 20)
    assert config.to_dict()["formats"] == ["png"]
    assert RunConfig().formats is not config.formats  # no shared mutable default


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("default", "default"),  # resolved for the data's sampling rate later
        (" filterbank ", "filterbank"),
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


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("a=1-4,a=5-8", "'a' is given twice"),
        ("=7-13", "has no band name"),
        (" =7-13,b=1-2", "has no band name"),
        ({"a": "x"}, "must be a pair"),
        ({"": [1, 4]}, "empty name"),
    ],
)
def test_duplicate_and_empty_band_names_are_errors(spec, match):
    with pytest.raises(InvalidInputError, match=rf"'bands'.*{match}"):
        parse_bands(spec)


@pytest.mark.parametrize(
    ("text", "key", "match"),
    [
        ('overwrite = "no"', "overwrite", "expected a boolean.*got 'no'"),
        ("overwrite = 0", "overwrite", "expected a boolean"),
        ("out = 5", "out", "expected a string"),
        ("epochs = true", "epochs", "expected an integer, got True"),
        ('epochs = "3"', "epochs", "expected an integer"),
        ("seed = 1.5", "seed", "expected an integer"),
        ("subject = false", "subject", "expected an integer"),
        ("batch_size = [16]", "batch_size", "expected an integer"),
        ("n_untrained = 1.0", "n_untrained", "expected an integer"),
        ("data = 3", "data", "expected a string"),
        ("data = []", "data", r"got \[\]"),
        ("data = ['a.gdf', 2]", "data", "non-empty list of file names"),
        ("test_data = {a = 1}", "test_data", "a file name"),
        ("events = 769", "events", "a string like 'left=T1,right=T2'"),
        ('tmin = "0"', "tmin", "a number of seconds"),
        ("tmax = true", "tmax", "a number of seconds"),
        ('resample = "250"', "resample", "a rate in Hz"),
        ("montage = false", "montage", "an MNE montage name"),
        ("model = 1", "model", "expected a string"),
        ("bands = 3", "bands", "'alpha=7-13,beta=13-31'"),
        ("device = 0", "device", "expected a string"),
        ('analyse = ["test"]', "analyse", "expected a string"),
        ("square = 1", "square", "expected a string"),
        ("bandpass = [4, 40]", "bandpass", "a string like '4-40'"),
        ('dense = "yes"', "dense", "a boolean"),
        ("dense = 1", "dense", "a boolean"),
        ('chance = "no"', "chance", "a boolean"),
        ("chance = 0", "chance", "a boolean"),
        ("samples = 1", "samples", "expected a string"),
        ('formats = "png"', "formats", "a list of strings"),
    ],
)
def test_every_toml_option_is_type_checked_naming_its_key(tmp_path, text, key, match):
    path = tmp_path / "c.toml"
    path.write_text(text + "\n")
    with pytest.raises(
        InvalidInputError, match=rf"'{key}' parameter: .*{match}.*c\.toml"
    ):
        load_config(path)


def test_every_option_has_a_type_check():
    import dataclasses

    from envcorr.config import _TYPES

    assert set(_TYPES) == {f.name for f in dataclasses.fields(RunConfig)}


def test_runconfig_check_catches_wrong_types_given_in_python():
    with pytest.raises(InvalidInputError, match="'overwrite'.*got 'no'"):
        RunConfig(overwrite="no").check()
    with pytest.raises(InvalidInputError, match="'out'.*got 5"):
        RunConfig(out=5).check()
    RunConfig(data=["a.gdf", "b.gdf"], tmin=0, tmax=2.5, resample=100).check()


def test_toml_of_binary_bytes_names_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(InvalidInputError, match="'config'.*not a UTF-8 text file"):
        load_config(path)


def test_toml_sets_the_data_options(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[envcorr]\ndata = ["a.gdf", "b.gdf"]\ntest_data = "c.gdf"\n'
        'events = {left = "T1", right = 770}\ntmin = 0\ntmax = 4.0\n'
        'resample = 250\nmontage = "none"\noverwrite = false\n'
    )
    values = load_config(path)
    config = RunConfig(**values)
    config.check()
    assert config.data == ["a.gdf", "b.gdf"] and config.events["right"] == 770


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("left=T1,right=T2", {"left": "T1", "right": "T2"}),
        (
            " left_hand = 769 , right_hand=770",
            {"left_hand": "769", "right_hand": "770"},
        ),
        ({"left": "T1", "right": 770}, {"left": "T1", "right": "770"}),
    ],
)
def test_parse_events(spec, expected):
    assert parse_events(spec) == expected


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("left", "cannot read 'left'"),
        ("left=T1", "only one class"),
        ("left=T1,left=T2", "'left' is given twice"),
        ("=T1,right=T2", "empty class or event name"),
        ("left=,right=T2", "empty class or event name"),
        ({"left": True, "right": "T2"}, "event True"),
    ],
)
def test_bad_events_name_the_option(spec, match):
    with pytest.raises(InvalidInputError, match=f"'events'.*{match}"):
        parse_events(spec)


def test_expand_data_sorts_globs_and_keeps_names(tmp_path):
    for name in ("run2.gdf", "run10.gdf", "run1.gdf"):
        (tmp_path / name).write_text("")
    files = expand_data("data", str(tmp_path / "run*.gdf"))
    assert [f.rsplit("/", 1)[1] for f in files] == ["run1.gdf", "run10.gdf", "run2.gdf"]
    assert expand_data("data", "simulated") == "simulated"
    assert expand_data("data", [str(tmp_path / "run1.*")]) == str(tmp_path / "run1.gdf")
    with pytest.raises(InvalidInputError, match="'test_data'.*no file matches.*--test"):
        expand_data("test_data", str(tmp_path / "*.edf"))


def test_output_dir_checks(tmp_path):
    held = tmp_path / "held"
    (held / "checkpoint").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match=r"'out'.*\(checkpoint/\)"):
        check_output_dir(held, overwrite=False)
    check_output_dir(held, overwrite=True)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("")
    check_output_dir(mine, overwrite=False)  # run and compute write beside it
    with pytest.raises(InvalidInputError, match="'out'.*not empty"):
        check_output_dir(mine, overwrite=False, empty=True)
    new = tmp_path / "a" / "b"
    created = check_writable_dir(new)
    assert created == [new, new.parent] and new.is_dir() and not any(new.iterdir())
    remove_created(created)
    assert not (tmp_path / "a").exists()
    (tmp_path / "f").write_text("")
    with pytest.raises(InvalidInputError, match="'out'.*cannot write to"):
        check_writable_dir(tmp_path / "f" / "x")


# --------------------------------------------------------------------------
# model names


def test_static_model_list_is_braindecodes_classifiers():
    """The names --help lists are the classifiers of this braindecode."""
    import inspect

    import braindecode.models as zoo
    from braindecode.models.util import non_classification_models

    classifiers = {
        name
        for name, cls in inspect.getmembers(zoo, inspect.isclass)
        if issubclass(cls, zoo.EEGModuleMixin)
        and cls is not zoo.EEGModuleMixin
        and "n_outputs" in inspect.signature(cls.__init__).parameters
        and name not in non_classification_models
    }
    assert tuple(sorted(classifiers)) == BRAINDECODE_MODELS
    assert set(MODEL_ALIASES.values()) <= classifiers
    assert MODEL_NAMES == (*MODEL_ALIASES, *BRAINDECODE_MODELS)
    assert set(DENSE_MODELS) == set(MODEL_ALIASES)
    assert set(CROPPED_MODELS) == {*DENSE_MODELS, "EEGNet"}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("deep4", "deep4"),
        ("Deep4", "deep4"),
        ("deep4net", "deep4"),
        ("Deep4Net", "deep4"),
        ("shallow", "shallow"),
        ("ShallowFBCSPNet", "shallow"),
        ("eegnet", "EEGNet"),
        ("EEGNET", "EEGNet"),
        ("eegnex", "EEGNeX"),
        ("atcnet", "ATCNet"),
        ("signaljepa_contextual", "SignalJEPA_Contextual"),
    ],
)
def test_model_names_resolve_any_case(name, key):
    assert resolve_model_name(name) == key
    RunConfig(model=name).check()


@pytest.mark.parametrize(
    ("name", "close"),
    [
        ("deep5", "Did you mean 'deep4'"),
        ("eegnett", "Did you mean 'EEGNet'"),
        ("shalow", "Did you mean 'shallow'"),
        ("atc-net", "Did you mean 'ATCNet'"),
    ],
)
def test_unknown_model_names_suggest_close_ones_and_list_all(name, close):
    for call in (lambda: resolve_model_name(name), RunConfig(model=name).check):
        with pytest.raises(InvalidInputError, match=rf"'model'.*'{name}'") as err:
            call()
        assert close in str(err.value)
        assert "'deep4', 'shallow'" in str(err.value)
        assert all(m in str(err.value) for m in BRAINDECODE_MODELS)


def test_a_name_close_to_nothing_lists_the_choices():
    with pytest.raises(InvalidInputError, match=r"unknown model 'zzz'\. Choose"):
        resolve_model_name("zzz")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("4-40", (4.0, 40.0)),
        (" 0.5 - 38 ", (0.5, 38.0)),
        ("4-", (4.0, None)),
        ("-40", (None, 40.0)),
    ],
)
def test_parse_bandpass(spec, expected):
    from envcorr.config import parse_bandpass

    assert parse_bandpass(spec) == expected


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("40", "expected LOW-HIGH"),
        ("40-4", "LOW must be below HIGH"),
        ("a-40", "'a' is not a number"),
        ("-", "no edge"),
        ("0-40", "positive"),
    ],
)
def test_bad_bandpass_names_the_option(spec, match):
    from envcorr.config import parse_bandpass

    with pytest.raises(InvalidInputError, match=rf"'bandpass'.*{match}"):
        parse_bandpass(spec)
