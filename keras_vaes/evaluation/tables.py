"""What every paper's evaluation shares: quality measures and table files.

- `QualityMeasures`: the image-quality columns of a results table, each
  from reference statistics computed once: "FID" (Inception features: the
  Keras InceptionV3 or the TF-GAN 2015 graph, the table says which) and
  "FD (classifier features)" (Fréchet distance on the features of the
  package's small classifier, `keras_vaes.metrics.fid.classifier_extractor`;
  it works offline and is NOT comparable with the papers' FIDs).
- `markdown_table`, `cell`, `write_table_files`: results.md and
  results.csv, obtained numbers with the paper's beside them.
"""

import csv
import io
import os

import numpy as np

from keras_vaes.metrics import fid
from keras_vaes.utils import atomic_write

FID = "FID"
FD = "FD (classifier features)"
MEASURES = (FID, FD)


def measure_name(description):
    """The short name of an extractor's measure for axes and titles: FID or FD."""
    return FD if description.startswith(FD) else FID


class QualityMeasures:
    """FID and classifier-feature FD of image sets against one reference.

    Args:
        reference: images `(N, H, W, C)` in [0, 1].
        feature_model: FID extractor (`FeatureExtractor`, `keras.Model`) or
            None when unavailable.
        fid_description: str. Which extractor produced the FIDs.
        fid_unavailable: str or None. Why there is no FID.
        classifier: `FeatureExtractor` of classifier features, or None.
        classifier_unavailable: str or None. Why there is no FD.
        batch_size: int. Defaults to 100.
        verbose: int. Defaults to 0.
    """

    def __init__(self, reference, feature_model=None, fid_description=None,
                 fid_unavailable=None, classifier=None, classifier_unavailable=None,
                 batch_size=100, verbose=0):
        self.batch_size = batch_size
        self.verbose = verbose
        self.extractors = {}
        self.reasons = {}
        self.descriptions = {}
        for name, extractor, description, reason in (
            (FID, feature_model, fid_description, fid_unavailable),
            (FD, classifier, None, classifier_unavailable),
        ):
            if extractor is None:
                self.reasons[name] = reason or "no feature extractor given"
                continue
            extractor = fid.as_extractor(extractor)
            self.extractors[name] = (
                extractor,
                fid.compute_statistics(reference, extractor, batch_size=batch_size, verbose=verbose),
            )
            self.descriptions[name] = description or extractor.description

    @property
    def available(self):
        """Names of the measures that produce numbers."""
        return tuple(name for name in MEASURES if name in self.extractors)

    def score(self, images):
        """`{measure: value or None}` of `images` (clipped to [0, 1])."""
        images = np.clip(images, 0.0, 1.0)
        scores = {name: None for name in MEASURES}
        for name, (extractor, reference_stats) in self.extractors.items():
            scores[name] = fid.fid_score(reference_stats, images, extractor,
                                         batch_size=self.batch_size, verbose=self.verbose)
        return scores

    def notes(self):
        """Markdown lines: which extractor produced each column, or why it is empty."""
        lines = []
        for name in MEASURES:
            if name in self.extractors:
                lines.append(f"{name}: {self.descriptions[name]}.")
            else:
                lines.append(f"{name} cells are empty: {self.reasons[name]}")
        if FD in self.extractors:
            lines.append(fid.CLASSIFIER_NOTE)
        return lines


def cell(value, paper=None, digits=2, empty="—"):
    """`"obtained [paper]"`: a number (or `empty`) with the paper's value beside it."""
    if value is None:
        text = empty
    elif isinstance(value, (bool, np.bool_)):
        text = "yes" if value else "no"
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    else:
        text = f"{value:.{digits}f}" if digits is not None else f"{value:.4g}"
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


def write_table_files(output_dir, markdown_lines, csv_rows):
    """Writes `results.md` and `results.csv` atomically; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    md_path = write_text(os.path.join(output_dir, "results.md"), "\n".join(markdown_lines) + "\n")
    return md_path, write_csv(os.path.join(output_dir, "results.csv"), csv_rows)
