"""`keras_vaes.utils.print_msg`: Keras's reporting through its public API."""

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


def test_writes_a_line_to_stdout(interactive, capsys):
    keras.utils.enable_interactive_logging()
    utils.print_msg("epoch 1: fid=12.300")
    utils.print_msg(3)
    utils.print_msg("no newline", line_break=False)
    assert capsys.readouterr().out == "epoch 1: fid=12.300\n3\nno newline"


def test_logs_when_interactive_logging_is_off(interactive, capsys, caplog):
    keras.utils.disable_interactive_logging()
    with caplog.at_level(logging.INFO, logger="keras_vaes"):
        utils.print_msg("to the log")
    assert capsys.readouterr().out == ""
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("keras_vaes", logging.INFO, "to the log")
    ]


def test_library_reports_through_the_wrapper_and_never_prints():
    import ast
    import pathlib

    from keras_vaes import callbacks

    assert callbacks.print_msg is utils.print_msg
    package = pathlib.Path(utils.__file__).parents[1]
    printing = [
        f"{path.relative_to(package)}:{node.lineno}"
        for path in sorted(package.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
    ]
    assert printing == []
