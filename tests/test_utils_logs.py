"""Tests of envcorr._utils.logs: levels set for a call and restored after it."""

from __future__ import annotations

import logging

import pytest

from envcorr._utils.check import InvalidInputError
from envcorr._utils.logs import (
    logger,
    progress,
    set_log_level,
    use_log_level,
    verbose,
)


@pytest.fixture(autouse=True)
def _restore_level():
    """Every test starts at INFO and leaves the logger as it found it."""
    old = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(old)


def test_logger_name_and_handler():
    assert logger.name == "envcorr"
    assert logger.handlers, "envcorr's logger should have its own handler"
    assert logger.propagate is False


# --------------------------------------------------------------------------
# set_log_level / use_log_level
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "level"),
    [
        (True, logging.INFO),
        (False, logging.WARNING),
        ("DEBUG", logging.DEBUG),
        ("warning", logging.WARNING),
        ("Error", logging.ERROR),
        (logging.CRITICAL, logging.CRITICAL),
        (15, 15),
    ],
)
def test_set_log_level(value, level):
    set_log_level(value)
    assert logger.level == level


def test_set_log_level_none_keeps_level():
    set_log_level("ERROR")
    set_log_level(None)
    assert logger.level == logging.ERROR


@pytest.mark.parametrize("bad", ["LOUD", "10", ""])
def test_set_log_level_rejects_bad_string(bad):
    with pytest.raises(InvalidInputError, match="'verbose' parameter"):
        set_log_level(bad)
    assert logger.level == logging.INFO


def test_use_log_level_restores():
    with use_log_level("DEBUG"):
        assert logger.level == logging.DEBUG
        with use_log_level(False):
            assert logger.level == logging.WARNING
        assert logger.level == logging.DEBUG
    assert logger.level == logging.INFO


def test_use_log_level_restores_on_exception():
    with pytest.raises(KeyError), use_log_level("ERROR"):
        assert logger.level == logging.ERROR
        raise KeyError("boom")
    assert logger.level == logging.INFO


def test_use_log_level_none_keeps_level():
    set_log_level("ERROR")
    with use_log_level(None):
        assert logger.level == logging.ERROR
    assert logger.level == logging.ERROR


def test_use_log_level_rejects_bad_string():
    with pytest.raises(InvalidInputError, match="'verbose' parameter"):
        with use_log_level("LOUD"):
            pass  # pragma: no cover
    assert logger.level == logging.INFO


# --------------------------------------------------------------------------
# the verbose decorator
# --------------------------------------------------------------------------
@verbose
def _positional(x, verbose=None):
    """Return x and the level seen during the call."""
    return x, logger.level


@verbose
def _keyword_only(x, *, verbose=None):
    return x, logger.level


@verbose
def _default_debug(x, *, verbose="DEBUG"):
    return x, logger.level


@verbose
def _raises(*, verbose=None):
    assert logger.level == logging.ERROR
    raise RuntimeError("inside")


def test_verbose_positional():
    assert _positional(1, "DEBUG") == (1, logging.DEBUG)
    assert _positional(1, False) == (1, logging.WARNING)
    assert logger.level == logging.INFO


def test_verbose_keyword():
    assert _positional(2, verbose="ERROR") == (2, logging.ERROR)
    assert _keyword_only(2, verbose="DEBUG") == (2, logging.DEBUG)
    assert _keyword_only(2, verbose=True) == (2, logging.INFO)
    assert logger.level == logging.INFO


def test_verbose_left_default_none_keeps_level():
    set_log_level("ERROR")
    assert _positional(3) == (3, logging.ERROR)
    assert _keyword_only(3) == (3, logging.ERROR)
    assert _keyword_only(3, verbose=None) == (3, logging.ERROR)
    assert logger.level == logging.ERROR


def test_verbose_left_default_non_none_is_used():
    assert _default_debug(4) == (4, logging.DEBUG)
    assert logger.level == logging.INFO
    assert _default_debug(4, verbose="WARNING") == (4, logging.WARNING)
    assert logger.level == logging.INFO


def test_verbose_restores_on_exception():
    set_log_level("WARNING")
    with pytest.raises(RuntimeError, match="inside"):
        _raises(verbose="ERROR")
    assert logger.level == logging.WARNING


def test_verbose_bad_level_names_verbose():
    with pytest.raises(InvalidInputError, match="'verbose' parameter.*'LOUD'"):
        _keyword_only(1, verbose="LOUD")
    with pytest.raises(InvalidInputError, match="'verbose' parameter"):
        _positional(1, "LOUD")
    assert logger.level == logging.INFO


def test_verbose_keeps_metadata():
    assert _positional.__name__ == "_positional"
    assert _positional.__doc__ == "Return x and the level seen during the call."


def test_verbose_on_method():
    class Thing:
        @verbose
        def run(self, x, *, verbose=None):
            return x, logger.level

    assert Thing().run(5, verbose="DEBUG") == (5, logging.DEBUG)
    assert Thing().run(5) == (5, logging.INFO)
    assert logger.level == logging.INFO


def test_verbose_rejects_function_without_verbose():
    def no_verbose(x):
        return x

    with pytest.raises(TypeError, match="no_verbose.*'verbose'"):
        verbose(no_verbose)


def test_verbose_bad_call_is_a_type_error():
    with pytest.raises(TypeError):
        _keyword_only(1, 2, 3)
    assert logger.level == logging.INFO


# --------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------
def test_progress_enabled_at_info():
    bar = progress(range(3), desc="units")
    try:
        assert bar.disable is False
        assert list(bar) == [0, 1, 2]
    finally:
        bar.close()


@pytest.mark.parametrize("level", ["WARNING", "ERROR", False])
def test_progress_disabled_at_warning_and_above(level):
    with use_log_level(level):
        bar = progress(iter(range(4)), desc="units", total=4)
    try:
        assert bar.disable is True
        assert list(bar) == [0, 1, 2, 3]
    finally:
        bar.close()


def test_progress_enabled_at_debug():
    with use_log_level("DEBUG"):
        bar = progress([1, 2], desc="units")
    try:
        assert bar.disable is False
        assert bar.total == 2
    finally:
        bar.close()
