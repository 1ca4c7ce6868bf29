"""Where the files that come with the package lie: the checkout's `weights/` or the wheel's data folder.

`WEIGHTS_DIR` holds the feature classifiers (`keras_vaes.metrics.classifier`)
and the presets small enough for the wheel; `keras_vaes.pretrained`
searches `bundled_folders()` after its other folders.
"""

import os
import site
import sys

_CHECKOUT_WEIGHTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights"
)
_DATA_SUBDIR = os.path.join("share", "keras_vaes", "weights")


def bundled_folders():
    """The checkout's `weights/`, then the wheel's data folder(s)."""
    folders = [_CHECKOUT_WEIGHTS]
    for prefix in (sys.prefix, sys.base_prefix, getattr(site, "USER_BASE", None)):
        if prefix:
            folders.append(os.path.join(prefix, _DATA_SUBDIR))
    return [f for i, f in enumerate(folders) if f not in folders[:i]]


def _default_weights_dir():
    for folder in bundled_folders():
        if os.path.isdir(folder):
            return folder
    return _CHECKOUT_WEIGHTS


# The folder of the files that come with the package (the checkout's
# `weights/`, or an installed wheel's data folder). The feature classifiers
# (`keras_vaes.metrics.classifier`) load from here.
WEIGHTS_DIR = _default_weights_dir()
