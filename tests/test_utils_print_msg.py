"""`keras_vaes.utils.print_msg`: Keras's reporting, with a public-API fallback."""

import logging

import keras
import pytest

from keras_vaes import utils


@pytest.fixture
def interactive():
    """Restores Keras's interactive-logging switch after the test."""
    was_on = keras.utils.is_interactive_logging_enabled()
    yield
    if was_on:
        keras.utils.enable_interactive_logging()
    else:
        keras.utils.disable_interactive_logging()


@pytest.fixture(params=["keras", "public"])
def implementation(request, monkeypatch):
    """Runs a test with Keras's private helper and with the public-API fallback."""
    if request.param == "public":
        monkeypatch.setattr(utils, "_keras_print_msg", None)
    return request.param


def test_writes_a_line_to_stdout(interactive, implementation, capsys):
    keras.utils.enable_interactive_logging()
    utils.print_msg("epoch 1: fid=12.300")
    utils.print_msg(3)
    utils.print_msg("no newline", line_break=False)
    assert capsys.readouterr().out == "epoch 1: fid=12.300\n3\nno newline"


def test_fallback_logs_when_interactive_logging_is_off(interactive, monkeypatch, capsys, caplog):
    monkeypatch.setattr(utils, "_keras_print_msg", None)
    keras.utils.disable_interactive_logging()
    with caplog.at_level(logging.INFO, logger="keras_vaes"):
        utils.print_msg("to the log")
    assert capsys.readouterr().out == ""
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("keras_vaes", logging.INFO, "to the log")
    ]


def test_modules_report_through_the_wrapper():
    from keras_vaes import callbacks
    from keras_vaes.evaluation import split_vae, split_vae_categories

    for module in (callbacks, split_vae, split_vae_categories):
        assert module.print_msg is utils.print_msg
