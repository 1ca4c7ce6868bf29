"""One evaluation protocol for every paper: rows of image sets, judged alike.

`evaluate(model, reference, rows=..., feature_model=...)` returns a
`ResultTable`: rows (samplers, settings, models) x columns (the image sets
each row produces: x_hat / x1 / x2 / mix, REC / GEN-1 / GEN-2, samples /
reconstructions), each cell `{"fd", "precision", "recall"}` per judge
(`tables.QualityMeasures`: FID and / or "FD (classifier features)"), named
extra columns per row (sharpness, inactive dimensions, variance loss,
seconds), table-level diagnostics, the paper's numbers beside the
obtained ones, and one `fid_unavailable` reason. `write_results(table,
directory)` writes it as results.md, results.csv and figures.

Each paper's evaluation is a configuration of it: `split_vae.evaluate_split_vae`
(Table 1 rows), `two_stage.evaluate_two_stage` (variance-loss paper Tables
1-2), `gamix.evaluate_gamix` (one row per model). A row is decoded,
measured and dropped before the next (only `keep_images` images of each
set are kept, evenly spaced, for figures), so memory stays flat in the
number of rows.

Example:

>>> import keras_vaes as kv  # doctest: +SKIP
>>> from keras_vaes.evaluation import protocol  # doctest: +SKIP
>>> model = kv.load_pretrained("svae_mnist_10ep")  # doctest: +SKIP
>>> table = protocol.evaluate(model, x_test[:2000], rows=[protocol.generation_row("prior", 2000)],
...                           classifier=kv.metrics.classifier_extractor("mnist"))  # doctest: +SKIP
>>> protocol.write_results(table, "results/")  # doctest: +SKIP
"""

import dataclasses
import os
import re
import typing

import keras
import numpy as np

from keras_vaes import plotting
from keras_vaes.evaluation import tables


@dataclasses.dataclass
class Row:
    """One row of a result table: a name and the image sets it produces.

    Args:
        name: str. The row's name in the table.
        columns: tuple of str. The image sets the row yields, in order (the
            progress bar and the table's columns are known before any
            image is decoded).
        image_sets: callable `(model) -> iterable of (column, images)`,
            images in [0, 1]. A generator: each set is measured and dropped
            before the next is made.
        extras: callable `(model) -> {name: value}` or None. Row-level
            measures (e.g. inactive dimensions), computed before the sets;
            the table keeps the returned dict itself, so `image_sets` may
            add to it what only making the sets tells (e.g. seconds, or
            why a set could not be made).
        model: the model of this row, or None for `evaluate`'s `model`
            (rows of one table may judge different models, as GAMIX's).
    """

    name: str
    columns: tuple
    image_sets: typing.Callable
    extras: typing.Optional[typing.Callable] = None
    model: typing.Any = None


@dataclasses.dataclass
class ResultTable:
    """Rows x image-set columns, each cell `{"fd", "precision", "recall"}` per measure.

    Attributes:
        title: str. The heading of results.md.
        rows: list of row names, in order.
        columns: list of column names (image sets), in order.
        measures: dict measure name ("FID", "FD (classifier features)") ->
            description of the extractor that produced it.
        cells: dict `(row, column)` -> `{measure: {"fd", "precision", "recall"}}`.
        extras: dict row -> `{name: value}`: named extra columns.
        diagnostics: dict name -> value: table-level numbers.
        paper: dict row -> `{column: value}`: the paper's numbers for the
            first measure, shown beside the obtained ones.
        fid_unavailable: str or None. Why the FID cells are empty.
        notes: list of str. Protocol notes (markdown bullets).
        warnings: list of str. Shown in bold at the top (e.g. a broken
            inference mode).
        images: dict `(row, column)` -> kept images in [0, 1], for figures.
        arrays: dict name -> array: per-variable data for figures and CSVs
            (e.g. "variance_law", "inactive_mask").
    """

    title: str = ""
    rows: list = dataclasses.field(default_factory=list)
    columns: list = dataclasses.field(default_factory=list)
    measures: dict = dataclasses.field(default_factory=dict)
    cells: dict = dataclasses.field(default_factory=dict)
    extras: dict = dataclasses.field(default_factory=dict)
    diagnostics: dict = dataclasses.field(default_factory=dict)
    paper: dict = dataclasses.field(default_factory=dict)
    fid_unavailable: typing.Optional[str] = None
    notes: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)
    images: dict = dataclasses.field(default_factory=dict)
    arrays: dict = dataclasses.field(default_factory=dict)

    def cell(self, row, column, measure=None):
        """`{"fd", "precision", "recall"}` of one image set (Nones when not scored).

        Args:
            row: str. Row name.
            column: str. Column name.
            measure: str or None. "FID" or "FD (classifier features)";
                None: the table's first measure.
        """
        if row not in self.rows or column not in self.columns:
            raise KeyError(f"Expected a row of {self.rows} and a column of {self.columns}. "
                           f"Received: row={row!r}, column={column!r}")
        measure = measure or next(iter(self.measures), tables.FID)
        return dict(self.cells.get((row, column), {}).get(measure) or tables.empty_cell())

    def values(self, key="fd", measure=None):
        """`{row: {column: value}}` of one quantity (only the scored cells)."""
        out = {}
        for row in self.rows:
            for column in self.columns:
                value = self.cell(row, column, measure)[key] if (row, column) in self.cells else None
                if value is not None:
                    out.setdefault(row, {})[column] = value
        return out


def spread(n, keep):
    """Indices of `keep` of `n` images, evenly spaced (all of them when n <= keep).

    Unshuffled GMM samples come grouped by component: the first 100 would
    show one or two components, evenly spaced ones show them all.
    """
    if n <= keep:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, keep).round().astype(int))


def to_unit_range(images, value_range):
    """Images of a model's `value_range` mapped to [0, 1] (clipped), float32."""
    low, high = (float(v) for v in value_range)
    images = np.asarray(images, dtype=np.float32)
    return np.clip((images - low) / (high - low), 0.0, 1.0)


def generation_row(name, num_samples, sampler=None, seed=0, batch_size=100, column="samples"):
    """A row of `num_samples` images generated by `model.generate(sampler=sampler)`.

    `sampler=None` is the model's declared prior (`model.prior`: N(0, I)
    when None, else the model's own). Images are mapped from the model's
    `value_range` to [0, 1].
    """

    def image_sets(model):
        generated = model.generate(int(num_samples), sampler=sampler, seed=seed, batch_size=batch_size)
        yield column, to_unit_range(generated["x_hat"], model.value_range)

    return Row(name, (column,), image_sets)


def reconstruction_row(name, images, batch_size=100, column="reconstructions"):
    """A row of the decoded posterior means of `images` (in the model's value range)."""

    def image_sets(model):
        z_mean = model.encode(images, batch_size=batch_size)[0]
        decoded = model.decode(z_mean, batch_size=batch_size)["x_hat"]
        yield column, to_unit_range(decoded, model.value_range)

    return Row(name, (column,), image_sets)


def evaluate(model, reference, rows, feature_model=None, *, classifier=None,
             feature_description=None, fid_unavailable=None, classifier_unavailable=None,
             image_measures=None, k=3, batch_size=100, keep_images=100, title="",
             notes=(), paper=None, verbose=0):
    """Measures every row's image sets against `reference`; returns a `ResultTable`.

    For each row, each image set it yields is judged by every available
    measure (one cell `{"fd", "precision", "recall"}` per measure:
    Fréchet distance, Split-VAE eq. (5); improved precision / recall,
    Kynkäänniemi et al. 2019, eq. 1-2), passed to `image_measures`, and
    dropped but for `keep_images` images kept for figures.

    Args:
        model: the evaluated model (rows without their own `model` use it),
            or None when every row carries its model.
        reference: images `(N, H, W, C)` in [0, 1], the real images every
            score compares against.
        rows: sequence of `Row`.
        feature_model: the FID judge (`FeatureExtractor`, `keras.Model`,
            path), or None to skip FID (say why in `fid_unavailable`).
        classifier: `FeatureExtractor` of classifier features for "FD
            (classifier features)", or None.
        feature_description: str or None. Which extractor produced the
            FIDs (defaults to its own description).
        fid_unavailable: str or None. Why there is no FID.
        classifier_unavailable: str or None. Why there is no FD.
        image_measures: callable `(row, column, images) -> {name: value}`
            or None. Extra measures of each image set, stored as the row's
            extra columns named `f"{column} {name}"`.
        k: int or None. Neighbours of precision / recall (None skips them).
            Defaults to 3.
        batch_size: int. Feature batch. Defaults to 100.
        keep_images: int. Images kept per set in `table.images`, evenly
            spaced over the set. Defaults to 100.
        title: str. The table's heading.
        notes: sequence of str. Protocol notes.
        paper: dict or None. `{row: {column: value}}` of the paper's
            numbers for the first measure, shown beside the obtained ones.
        verbose: int. 1 shows one progress bar whose steps are the image
            sets. Defaults to 0.

    Returns:
        A `ResultTable`.
    """
    rows = list(rows)
    for row in rows:
        if not isinstance(row, Row):
            raise TypeError(f"Expected `rows` to hold `Row` objects. Received: {row!r}")
    names = [row.name for row in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"Expected distinct row names. Received: {names}")
    measures = tables.QualityMeasures(
        reference, feature_model, feature_description, fid_unavailable, classifier,
        classifier_unavailable, k=k, batch_size=batch_size, verbose=0,
    )
    table = ResultTable(
        title=title, rows=names, columns=list(dict.fromkeys(c for row in rows for c in row.columns)),
        measures={name: measures.descriptions[name] for name in measures.available},
        fid_unavailable=measures.fid_unavailable, notes=list(notes) + measures.notes(),
        paper=dict(paper or {}),
    )
    progbar = keras.utils.Progbar(sum(len(row.columns) for row in rows), unit_name="image set") \
        if verbose else None
    for row in rows:
        row_model = row.model if row.model is not None else model
        extras = row.extras(row_model) if row.extras is not None else {}
        made = 0
        for column, images in row.image_sets(row_model):
            if column not in row.columns:
                raise ValueError(f"Row {row.name!r} yielded column {column!r}. "
                                 f"Expected one of its declared columns {row.columns}.")
            table.cells[(row.name, column)] = measures.score(images)
            if image_measures is not None:
                for name, value in image_measures(row.name, column, images).items():
                    extras[f"{column} {name}"] = value
            table.images[(row.name, column)] = np.asarray(images)[spread(len(images), keep_images)]
            images = None  # the next set is made with none of this one alive
            made += 1
            if progbar is not None:
                progbar.add(1)
        if progbar is not None and made < len(row.columns):
            progbar.add(len(row.columns) - made)  # sets the row could not make (its extras say why)
        table.extras[row.name] = extras
    return table


def _rows_with_paper(table):
    """The table's rows, then the rows only the paper reports (its own methods)."""
    return list(table.rows) + [r for r in table.paper if r not in table.rows]


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "row"


def _markdown(table):
    lines = [f"# {table.title}", ""] if table.title else []
    lines += [f"**WARNING — {warning}**" for warning in table.warnings]
    if table.warnings:
        lines.append("")
    lines += [f"- {note}" for note in table.notes]
    if table.fid_unavailable and not any(table.fid_unavailable in note for note in table.notes):
        lines.append(f"- FID cells are empty: {table.fid_unavailable}")  # said once
    measures = list(table.measures) or [tables.FID]
    first = measures[0]
    for measure in measures:
        scored = {(r, c): table.cell(r, c, measure) if r in table.rows else tables.empty_cell()
                  for r in _rows_with_paper(table) for c in table.columns}
        with_pr = any(cell["precision"] is not None for cell in scored.values())
        header = ["row"] + [f"{measure} {c}" for c in table.columns]
        if with_pr:
            header += [f"{q} {c}" for c in table.columns for q in ("precision", "recall")]
        body = []
        for r in _rows_with_paper(table) if measure == first else table.rows:
            paper = table.paper.get(r, {}) if measure == first else {}
            body.append([r] + [tables.format_value(scored[(r, c)]["fd"], paper=paper.get(c))
                               for c in table.columns]
                        + ([tables.format_value(scored[(r, c)][q], digits=3)
                            for c in table.columns for q in ("precision", "recall")] if with_pr else []))
        lines += ["", f"## {measure}", ""]
        if measure == first and table.paper:
            lines += ["Each cell: obtained value (the paper's in brackets where it reports one; "
                      "rows only the paper has read — [paper]).", ""]
        lines += tables.markdown_table(header, body)
    names = list(dict.fromkeys(name for r in table.rows for name in table.extras.get(r, {})))
    if names:
        lines += ["", "## Per row", ""]
        lines += tables.markdown_table(["row"] + names, [
            [r] + [tables.format_value(table.extras[r].get(n), digits=None) for n in names]
            for r in table.rows])
    if table.diagnostics:
        lines += ["", "## Diagnostics", ""]
        lines += tables.markdown_table(["diagnostic", "value"], [
            [name, tables.format_value(value, digits=None)] for name, value in table.diagnostics.items()])
    return lines


def _csv_rows(table):
    """One value a line: row, column, quantity, value (tidy: any table has this shape)."""
    csv_rows = [["row", "column", "quantity", "value"]]
    measures = list(table.measures) or [tables.FID]
    for r in _rows_with_paper(table):
        for c in table.columns:
            for measure in measures if r in table.rows else ():
                cell = table.cell(r, c, measure)
                for key in tables.CELL_KEYS:
                    quantity = measure if key == "fd" else f"{measure} {key}"
                    csv_rows.append([r, c, quantity, "" if cell[key] is None else cell[key]])
            if c in table.paper.get(r, {}):
                csv_rows.append([r, c, f"paper {measures[0]}", table.paper[r][c]])
        for name, value in table.extras.get(r, {}).items():
            csv_rows.append([r, "", name, "" if value is None else value])
    for name, value in table.diagnostics.items():
        csv_rows.append(["", "", name, "" if value is None else value])
    return csv_rows


def save_figures(table, directory, per_column=10):
    """One image grid per row (each column's kept images, `per_column` of each, a grid row per column).

    Plus the per-variable variance law with its inactive variables when
    `table.arrays` holds "variance_law". Returns the paths written.
    """
    paths = []
    for r in table.rows:
        sets = [table.images[(r, c)][:per_column] for c in table.columns if (r, c) in table.images]
        sets = [s for s in sets if len(s)]
        if not sets or len({s.shape[1:] for s in sets}) != 1:
            continue
        padded = [np.concatenate([s, np.ones((per_column - len(s),) + s.shape[1:], s.dtype)])
                  if len(s) < per_column else s for s in sets]
        paths.append(plotting.save_image_grid(
            np.concatenate(padded), os.path.join(directory, f"images_{_slug(r)}.png"), ncols=per_column,
            title=f"{r}: " + ", ".join(c for c in table.columns if (r, c) in table.images)))
    if "variance_law" in table.arrays:
        paths.append(plotting.save_variance_law(
            table.arrays["variance_law"], os.path.join(directory, "variance_law.png"),
            inactive=table.arrays.get("inactive_mask")))
    return paths


def write_results(table, directory, figures=True, name="results"):
    """Writes `table` as results.md, results.csv and (optionally) figures.

    results.md: the title, warnings, notes (which extractor produced each
    measure, or why it is empty), one table per measure (rows x columns
    of FD with the paper's value in brackets, then precision / recall;
    rows only the paper reports below this run's), the rows' extra
    columns and the diagnostics. results.csv: one value a line, `row,
    column, quantity, value`. arrays.csv (when `table.arrays` holds any):
    `array, index, value`. Every number in results.md goes through
    `tables.format_value`. `name` replaces "results" in the file names
    (two tables in one folder, e.g. Split-VAE Tables 1 and 2).

    Args:
        table: a `ResultTable`.
        directory: str. Created if missing.
        figures: bool. Also write one image grid per row and the
            variance law (`save_figures`). Defaults to True.
        name: str. Stem of the file names. Defaults to "results".

    Returns:
        The paths written: results.md, results.csv, arrays.csv if any,
        then the figures.
    """
    if not isinstance(table, ResultTable):
        raise TypeError(f"Expected a `ResultTable`. Received: {type(table).__name__}")
    paths = list(tables.write_table_files(directory, _markdown(table), _csv_rows(table), name=name))
    if table.arrays:
        arrays_name = "arrays.csv" if name == "results" else f"{name}_arrays.csv"
        paths.append(tables.write_csv(os.path.join(directory, arrays_name), [["array", "index", "value"]] + [
            [name, index, value] for name, array in table.arrays.items()
            for index, value in enumerate(np.ravel(np.asarray(array)).tolist())]))
    if figures:
        paths += save_figures(table, directory)
    return paths
