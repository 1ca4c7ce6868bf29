"""What every evaluation shares: the judges of image quality and the table files.

- `QualityMeasures`: the judges of a results table, each with its
  reference features computed once: "FID" (Inception features: the Keras
  InceptionV3 or the TF-GAN 2015 graph, the table says which) and "FD
  (classifier features)" (Fréchet distance on the features of the
  package's small classifier, `keras_vaes.metrics.classifier_extractor`;
  it works offline and is NOT comparable with the papers' FIDs). Each
  judge scores an image set as one cell `{"fd", "precision", "recall"}`.
- `format_value`: the one formatter of every table cell.
- `markdown_table`, `write_csv`, `write_table_files`: results.md and
  results.csv, written atomically.
"""

import csv
import io
import math
import os

import numpy as np

from keras_vaes import metrics
from keras_vaes.utils import atomic_write

FID = "FID"
FD = "FD (classifier features)"
MEASURES = (FID, FD)
CELL_KEYS = ("fd", "precision", "recall")


def measure_name(description):
    """The short name of an extractor's measure for axes and titles: FID or FD."""
    return FD if description.startswith(FD) else FID


def empty_cell():
    """A cell no judge scored: `{"fd": None, "precision": None, "recall": None}`."""
    return dict.fromkeys(CELL_KEYS)


class QualityMeasures:
    """The judges of image sets against one reference: FD, precision and recall.

    FD is the Fréchet distance of the judge's features (Split-VAE eq. (5),
    `keras_vaes.metrics.frechet_distance`); precision and recall are the
    improved precision and recall of the same features (Kynkäänniemi et
    al. 2019, eq. 1-2, `keras_vaes.metrics.precision_recall`).

    Args:
        reference: images `(N, H, W, C)` in [0, 1].
        feature_model: the FID judge (`FeatureExtractor`, `keras.Model`,
            path) or None when unavailable.
        feature_description: str or None. Which extractor produced the
            FIDs (defaults to the extractor's own description).
        fid_unavailable: str or None. Why there is no FID.
        classifier: `FeatureExtractor` of classifier features, or None.
        classifier_unavailable: str or None. Why there is no FD.
        k: int or None. Neighbours of precision / recall; None skips them
            (the cells keep None). Defaults to 3.
        batch_size: int. Defaults to 100.
        verbose: int. Defaults to 0.
    """

    def __init__(self, reference, feature_model=None, feature_description=None,
                 fid_unavailable=None, classifier=None, classifier_unavailable=None,
                 k=3, batch_size=100, verbose=0):
        self.batch_size = batch_size
        self.verbose = verbose
        self.k = k
        self.judges = {}
        self.reasons = {}
        self.descriptions = {}
        for name, extractor, description, reason in (
            (FID, feature_model, feature_description, fid_unavailable),
            (FD, classifier, None, classifier_unavailable),
        ):
            if extractor is None:
                self.reasons[name] = reason or "no feature extractor given"
                continue
            extractor = metrics.as_extractor(extractor)
            features = self._features(reference, extractor)
            stats = metrics.FeatureStatistics.from_features(features)
            self.judges[name] = (extractor, features if k is not None else None, stats)
            self.descriptions[name] = description or extractor.description

    def _features(self, images, extractor):
        return metrics.extract_features(np.clip(images, 0.0, 1.0), extractor,
                                        batch_size=self.batch_size, verbose=self.verbose)

    @property
    def available(self):
        """Names of the measures that produce numbers."""
        return tuple(name for name in MEASURES if name in self.judges)

    @property
    def fid_unavailable(self):
        """Why the FID cells are empty, or None."""
        return self.reasons.get(FID)

    def score(self, images):
        """`{measure: {"fd", "precision", "recall"}}` of `images` (clipped to [0, 1])."""
        scores = {}
        for name, (extractor, reference_features, stats) in self.judges.items():
            features = self._features(images, extractor)
            cell = empty_cell()
            cell["fd"] = metrics.frechet_distance(stats.mu, stats.sigma, np.mean(features, axis=0),
                                                  np.cov(features, rowvar=False))
            if reference_features is not None:
                cell["precision"], cell["recall"] = metrics.precision_recall(
                    reference_features, features, k=self.k)
            scores[name] = cell
        return scores

    def notes(self):
        """Markdown lines: which extractor produced each measure, or why it is empty."""
        lines = []
        for name in MEASURES:
            if name in self.judges:
                lines.append(f"{name}: {self.descriptions[name]}.")
            elif name == FID or name in self.reasons and self.reasons[name] != "no feature extractor given":
                lines.append(f"{name} cells are empty: {self.reasons[name]}")
        if FD in self.judges:
            lines.append(metrics.CLASSIFIER_NOTE)
        return lines


def format_value(value, digits=2, paper=None, empty="—"):
    """The text of one table cell: `"obtained [paper]"`.

    None and NaN give `empty`; booleans "yes" / "no"; integers as they
    are; floats with `digits` decimals (`digits=None`: 4 significant
    digits); anything else as `str`. The paper's value, when given, follows
    in brackets.

    Example:

    >>> format_value(20.437, paper=20.4)
    '20.44 [20.4]'
    >>> format_value(None), format_value(3), format_value(0.000123, digits=None)
    ('—', '3', '0.000123')
    """
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        text = empty
    elif isinstance(value, (bool, np.bool_)):
        text = "yes" if value else "no"
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        text = f"{value:.{digits}f}" if digits is not None else f"{value:.4g}"
    else:
        text = str(value)
    return text + (f" [{paper}]" if paper is not None else "")


def markdown_table(header, rows):
    """Lines of a markdown table: `header` is a list of titles, rows lists of strings."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def write_text(path, text):
    """Writes `text` to `path` atomically; returns the path."""

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            f.write(text)

    atomic_write(path, write)
    return path


def write_csv(path, rows):
    """Writes `rows` (lists of cells) as a CSV file atomically; returns the path."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return write_text(path, buffer.getvalue())


def write_table_files(output_dir, markdown_lines, csv_rows, name="results"):
    """Writes `<name>.md` and `<name>.csv` atomically; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    md_path = write_text(os.path.join(output_dir, f"{name}.md"), "\n".join(markdown_lines) + "\n")
    return md_path, write_csv(os.path.join(output_dir, f"{name}.csv"), csv_rows)
