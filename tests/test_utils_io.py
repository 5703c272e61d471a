"""Tests of envcorr._utils.io: files and folders appear whole or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from envcorr._utils.io import atomic_dir, atomic_path


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


class _Boom(Exception):
    pass


# --------------------------------------------------------------------------
# atomic_path
# --------------------------------------------------------------------------
def test_atomic_path_writes_on_success(tmp_path):
    final = tmp_path / "out.txt"
    with atomic_path(final) as tmp:
        assert isinstance(tmp, Path)
        assert tmp.parent == tmp_path  # same folder, so the rename is atomic
        assert tmp.name.startswith(".")  # hidden while being written
        assert tmp != final
        assert not tmp.exists()  # the body creates it
        tmp.write_text("hello")
        assert not final.exists()  # nothing visible before the end
    assert final.read_text() == "hello"
    assert _listing(tmp_path) == {"out.txt"}


def test_atomic_path_accepts_str(tmp_path):
    with atomic_path(str(tmp_path / "out.bin")) as tmp:
        tmp.write_bytes(b"\x00\x01")
    assert (tmp_path / "out.bin").read_bytes() == b"\x00\x01"
    assert _listing(tmp_path) == {"out.bin"}


def test_atomic_path_replaces_existing_on_success(tmp_path):
    final = tmp_path / "out.txt"
    final.write_text("old")
    with atomic_path(final) as tmp:
        tmp.write_text("new")
        assert final.read_text() == "old"
    assert final.read_text() == "new"
    assert _listing(tmp_path) == {"out.txt"}


def test_atomic_path_two_temporaries_differ(tmp_path):
    with atomic_path(tmp_path / "a") as t1, atomic_path(tmp_path / "a") as t2:
        assert t1 != t2
        t1.write_text("1")
        t2.write_text("2")
    assert (tmp_path / "a").read_text() in {"1", "2"}
    assert _listing(tmp_path) == {"a"}


@pytest.mark.parametrize("exc", [_Boom, KeyboardInterrupt])
def test_atomic_path_failure_leaves_nothing(tmp_path, exc):
    final = tmp_path / "out.txt"
    with pytest.raises(exc):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise exc()
    assert not final.exists()
    assert _listing(tmp_path) == set()


@pytest.mark.parametrize("exc", [_Boom, KeyboardInterrupt])
def test_atomic_path_failure_keeps_existing(tmp_path, exc):
    final = tmp_path / "out.txt"
    final.write_text("old")
    with pytest.raises(exc):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise exc()
    assert final.read_text() == "old"
    assert _listing(tmp_path) == {"out.txt"}


def test_atomic_path_body_writing_nothing_leaves_existing(tmp_path):
    final = tmp_path / "out.txt"
    final.write_text("old")
    with pytest.raises(FileNotFoundError):
        with atomic_path(final):
            pass
    assert final.read_text() == "old"
    assert _listing(tmp_path) == {"out.txt"}


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_path_permissions_follow_umask_without_touching_it(
    tmp_path, monkeypatch, mask
):
    real_umask = os.umask
    previous = real_umask(mask)
    try:

        def no_umask(*args):
            raise AssertionError("atomic_path must not call os.umask")

        monkeypatch.setattr(os, "umask", no_umask)
        normal = tmp_path / "normal.txt"
        normal.write_text("x")
        final = tmp_path / "atomic.txt"
        with atomic_path(final) as tmp:
            tmp.write_text("x")
        monkeypatch.undo()
        assert stat.S_IMODE(final.stat().st_mode) == stat.S_IMODE(normal.stat().st_mode)
        assert stat.S_IMODE(final.stat().st_mode) == 0o666 & ~mask
    finally:
        # the umask the process had during the test is still in place
        assert real_umask(previous) == mask


# --------------------------------------------------------------------------
# atomic_dir
# --------------------------------------------------------------------------
def test_atomic_dir_creates_on_success(tmp_path):
    final = tmp_path / "results"
    with atomic_dir(final) as tmp:
        assert tmp.is_dir()
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".")
        assert list(tmp.iterdir()) == []
        (tmp / "a.txt").write_text("A")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("B")
        assert not final.exists()
    assert (final / "a.txt").read_text() == "A"
    assert (final / "sub" / "b.txt").read_text() == "B"
    assert _listing(tmp_path) == {"results"}


def test_atomic_dir_creates_parents(tmp_path):
    final = tmp_path / "x" / "y" / "results"
    with atomic_dir(str(final)) as tmp:
        (tmp / "a.txt").write_text("A")
    assert (final / "a.txt").read_text() == "A"
    assert _listing(final.parent) == {"results"}


def test_atomic_dir_replaces_existing_on_success(tmp_path):
    final = tmp_path / "results"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with atomic_dir(final) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (final / "old.txt").read_text() == "old"  # untouched until the end
    assert _listing(final) == {"new.txt"}
    assert (final / "new.txt").read_text() == "new"
    assert _listing(tmp_path) == {"results"}


@pytest.mark.parametrize("exc", [_Boom, KeyboardInterrupt])
def test_atomic_dir_failure_leaves_nothing(tmp_path, exc):
    final = tmp_path / "results"
    with pytest.raises(exc):
        with atomic_dir(final) as tmp:
            (tmp / "a.txt").write_text("half")
            raise exc()
    assert not final.exists()
    assert _listing(tmp_path) == set()


@pytest.mark.parametrize("exc", [_Boom, KeyboardInterrupt])
def test_atomic_dir_failure_keeps_existing(tmp_path, exc):
    final = tmp_path / "results"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(exc):
        with atomic_dir(final) as tmp:
            (tmp / "new.txt").write_text("half")
            raise exc()
    assert _listing(final) == {"old.txt"}
    assert (final / "old.txt").read_text() == "old"
    assert _listing(tmp_path) == {"results"}


def test_atomic_dir_failure_during_swap_keeps_existing(tmp_path, monkeypatch):
    final = tmp_path / "results"
    final.mkdir()
    (final / "old.txt").write_text("old")
    real_rename = Path.rename
    calls = []

    def rename(self, target):
        calls.append((self, target))
        if len(calls) == 2:  # the new folder moving into place
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(final) as tmp:
            (tmp / "new.txt").write_text("new")
    monkeypatch.undo()
    assert len(calls) == 3  # aside, into place (interrupted), back again
    assert _listing(tmp_path) == {"results"}
    assert _listing(final) == {"old.txt"}


def test_atomic_dir_refuses_to_replace_a_file(tmp_path):
    final = tmp_path / "results"
    final.write_text("a file")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        with atomic_dir(final) as tmp:
            (tmp / "new.txt").write_text("new")
    assert final.read_text() == "a file"
    assert _listing(tmp_path) == {"results"}


def test_atomic_path_keeps_the_suffix_for_writers_that_need_it(tmp_path):
    final = tmp_path / "data.npz"
    with atomic_path(final) as tmp:
        assert tmp.suffix == ".npz"
        np.savez(tmp, x=np.arange(3))
    assert np.load(final)["x"].tolist() == [0, 1, 2]
