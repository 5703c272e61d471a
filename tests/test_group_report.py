"""Tests of envcorr.group_report: the study's report, its links and figures."""

from __future__ import annotations

import base64
import json
import re
from html import unescape

import pytest

from _figures import close_figures  # noqa: F401
from _results_fixture import make_results
from envcorr._utils.check import InvalidInputError
from envcorr.group import group_maps, truth_recovery
from envcorr.group_report import find_group, group_report_only, make_group_report

BANDS = {"alpha": (7.0, 13.0), "beta": (13.0, 31.0)}
SUBJECTS = (1, 2, 3, 4, 5, 6, 10)
IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
FAILURE = {
    "error_type": "InvalidInputError",
    "message": "Invalid value for the 'data' parameter: <sub7.npz> is not a file.",
    "traceback": "Traceback (most recent call last):\n  ...",
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A study folder: group.nc, study.json, failures.json, subjects' reports."""
    out = tmp_path_factory.mktemp("study")
    subjects = {}
    for k in SUBJECTS:
        ds = make_results(n_layers=2, bands=BANDS, seed=k)
        ds.attrs["test_accuracy"] = 0.5 + 0.03 * k
        subjects[k] = ds
        (out / "subjects" / str(k)).mkdir(parents=True)
        (out / "subjects" / str(k) / "report.html").write_text("<html></html>")
    options = {"data": "simulated", "model": "deep4", "epochs": 20}
    group = group_maps(subjects, options=options, failed=[7])
    group.to_netcdf(out / "group.nc", engine="h5netcdf")
    seconds = {"1": 150.0, "2": 93.0}  # the others were run before it was recorded
    (out / "study.json").write_text(
        json.dumps({"options": options, "seconds": seconds})
    )
    (out / "failures.json").write_text(json.dumps({"7": FAILURE}))
    return out


@pytest.fixture(scope="module")
def html(study):
    path = make_group_report(study / "group.nc", study / "report.html", verbose=False)
    assert path == study / "report.html"
    return path.read_text(encoding="utf-8")


def section(html, name):
    return html.split(f'<section id="{name}">')[1].split("</section>")[0]


def test_every_subject_is_linked(html):
    table = section(html, "subjects")
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>(.*?)</tr>", table, flags=re.S)
    assert [int(s) for s, _ in rows] == list(SUBJECTS)
    for subject, row in rows:
        assert f'<a href="subjects/{subject}/report.html">' in row
    cells = dict(rows)
    assert "53.0 %" in cells["1"] and "288" in cells["1"] and "2.5" in cells["1"]
    assert "1.6" in cells["2"]  # 93 s
    assert '<th class="num">Minutes</th>' in table


def test_figures_are_embedded(html):
    figures = section(html, "figures")
    images = IMG.findall(figures)
    assert len(images) == 4
    assert all(base64.b64decode(d)[:8] == b"\x89PNG\r\n\x1a\n" for d in images)
    for name in ("layer_band_grid", "class_maps", "depth_profile", "accuracy"):
        assert f'id="fig-group_{name}"' in figures
    assert figures.count("<figcaption>") == 4


def test_failures_are_listed(html):
    failures = section(html, "failures")
    assert "<td>7</td>" in failures and "InvalidInputError" in failures
    assert "&lt;sub7.npz&gt; is not a file" in failures  # escaped
    assert "<details><summary>traceback</summary>" in failures
    assert '<a href="#failures">' in html


def test_statistics_config_and_versions(html):
    stats = unescape(section(html, "statistics"))
    for words in (
        "sign-flip permutation t-test",
        "mne.stats.permutation_t_test",
        "exact: all 2^6 = 64 sign patterns",
        "max-t",
        "Benjamini–Hochberg",
        "no p-value can be below 1/64",
        "across the 7 subjects",
        "envelope–class correlations",
    ):
        assert words in stats, words
    config = unescape(section(html, "config").split("<pre")[1].split("</pre>")[0])
    assert '"model": "deep4"' in config
    assert "<td>xarray</td>" in section(html, "versions")
    assert "Deep4Net · BNCI2014_001 · 7 subjects" in html


def test_no_external_resources(html):
    assert not re.search(r'(src|href)="(https?:|//|file:)', html)
    assert "<link" not in html and "<script" not in html
    assert "@import" not in html and "url(" not in html


def test_report_elsewhere_links_relative_to_it(study, tmp_path):
    from envcorr.group import read_group

    group = read_group(study / "group.nc")
    out = study / "elsewhere" / "group.html"
    make_group_report(group, out, study_dir=study, figures=[], verbose=False)
    text = out.read_text(encoding="utf-8")
    assert '<a href="../subjects/3/report.html">' in text
    assert "No figures." in text
    # without the subjects' folders: no links, and no failures file: none listed
    group.attrs["failed_subjects"] = "[]"
    bare = make_group_report(group, tmp_path / "r.html", figures=[], verbose=False)
    text = bare.read_text(encoding="utf-8")
    assert 'href="subjects/' not in text and "not found" in text
    assert '<section id="failures">' not in text and "Minutes" not in text
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # nothing temporary


def test_group_report_only_from_the_study_folder(study, tmp_path):
    out = tmp_path / "report" / "report.html"
    paths = group_report_only(study, out, formats=("png", "svg"), verbose=False)
    assert paths["report"] == out and out.is_file()
    assert sorted(p.name for p in paths["figures"]) == sorted(
        f"group_{n}.{ext}"
        for n in ("layer_band_grid", "class_maps", "depth_profile", "accuracy")
        for ext in ("png", "svg")
    )
    assert '<a href="../../' in out.read_text(encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"'out'.*already exists"):
        group_report_only(study / "group.nc", out, verbose=False)


def test_find_group(study, tmp_path):
    assert find_group(study) == study / "group.nc"
    assert find_group(study / "group.nc") == study / "group.nc"
    results = tmp_path / "results.nc"
    make_results(n_layers=1).to_netcdf(results, engine="h5netcdf")
    assert find_group(results) is None
    assert find_group(tmp_path) is None
    assert find_group(tmp_path / "missing.nc") is None


def test_bad_input(study, tmp_path):
    with pytest.raises(InvalidInputError, match=r"'group'.*'subject'"):
        make_group_report(make_results(), tmp_path / "r.html")
    with pytest.raises(InvalidInputError, match=r"'out_path'.*folder"):
        make_group_report(study / "group.nc", tmp_path)
    with pytest.raises(InvalidInputError, match=r"'figures'"):
        make_group_report(study / "group.nc", tmp_path / "r.html", figures="x")
    results = tmp_path / "results.nc"
    make_results(n_layers=1).to_netcdf(results, engine="h5netcdf")
    with pytest.raises(InvalidInputError, match=r"'results'.*not the group file"):
        group_report_only(results, tmp_path / "r.html")


def test_envcorr_report_on_a_study_folder_draws_the_group_report(study, tmp_path):
    from envcorr.cli import main

    out = tmp_path / "again" / "report.html"
    out.parent.mkdir()
    main(["report", str(study), "-o", str(out), "-q"])
    text = out.read_text(encoding="utf-8")
    assert "subjects/1/report.html" in text
    assert (out.parent / "figures" / "group_layer_band_grid.png").is_file()


def test_envcorr_report_keeps_an_existing_group_report_unless_overwrite(
    study, tmp_path, capsys
):
    from envcorr.cli import main

    out = tmp_path / "report.html"
    out.write_text("mine")
    assert main(["report", str(study), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err
    assert out.read_text() == "mine" and not (tmp_path / "figures").exists()
    assert main(["report", str(study), "-o", str(out), "--overwrite", "-q"]) == 0
    assert "subjects/1/report.html" in out.read_text(encoding="utf-8")


def test_a_simulated_study_shows_its_known_answer(tmp_path):
    subjects = {k: make_results(n_layers=2, bands=BANDS, seed=k) for k in SUBJECTS}
    for ds in subjects.values():
        ds.attrs["dataset"] = "simulated"
    group = group_maps(subjects, options={"data": "simulated"})
    html = make_group_report(
        group, tmp_path / "report.html", figures=[], verbose=False
    ).read_text(encoding="utf-8")
    assert 'href="#truth"' in html
    truth = unescape(section(html, "truth"))
    recovery = truth_recovery(group)
    effects, maps = (b.split("</tbody>")[0] for b in truth.split("<tbody>")[1:])
    # the simulation's 9 alpha and 5 beta effects; 2 bands x 2 layers
    assert effects.count("<tr>") == len(recovery.effects) == 14
    assert maps.count("<tr>") == len(recovery.maps) == 4
    n_found = int(recovery.effects["found"].sum())
    assert f"The class test finds {n_found} of 14 effects" in truth
    assert f"{n_found}/14" in unescape(html.split("</header>")[0])


def test_the_known_answer_uses_the_test_above_chance_where_there_is_one(tmp_path):
    subjects = {
        k: make_results(n_layers=2, bands=BANDS, seed=k, chance=True) for k in SUBJECTS
    }
    for ds in subjects.values():
        ds.attrs["dataset"] = "simulated"
    group = group_maps(subjects, options={"data": "simulated"})
    html = unescape(
        make_group_report(
            group, tmp_path / "report.html", figures=[], verbose=False
        ).read_text(encoding="utf-8")
    )
    truth = section(html, "truth")
    assert "Trained − untrained mean |r| above chance</h3>" in truth
    maps = truth.split("<tbody>")[2].split("</tbody>")[0]
    recovery = truth_recovery(group)
    assert recovery.test == "excess"
    for _, row in recovery.maps.iterrows():
        found = " ".join(row["found"]) or "—"
        assert f"<td>{found}</td><td>{' '.join(row['found_fdr']) or '—'}</td>" in maps
    assert "above chance (each network's mean |r| less" in html


def test_other_data_have_no_known_answer(html):
    assert 'id="truth"' not in html and "Simulated effects found" not in html
