"""Progress messages, reported as Keras's own callbacks report them."""

import logging
import sys

import keras


def print_msg(message, line_break=True):
    """Reports a progress message the way Keras's own callbacks do.

    With interactive logging on (`keras.config.enable_interactive_logging`,
    the default) the message goes to stdout; off, to the "keras_vaes"
    logger at level INFO. The package uses this behind its `verbose=`
    arguments and never `print`s. Only Keras's public API is used.

    Args:
        message: the message; converted with `str`.
        line_break: bool. End the message with a newline. Defaults to True.

    Example:
    >>> print_msg("epoch 1: fid=12.300")
    epoch 1: fid=12.300
    """
    message = str(message)
    if not keras.utils.is_interactive_logging_enabled():
        logging.getLogger("keras_vaes").info(message)
        return
    text = f"{message}\n" if line_break else message
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        # A terminal whose encoding lacks a character (Keras does the same).
        encoding = sys.stdout.encoding or "utf-8"
        sys.stdout.write(text.encode(encoding, errors="replace").decode(encoding))
    sys.stdout.flush()
