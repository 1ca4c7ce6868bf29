"""Evaluation of the learned-priors paper: Figure 3, Table 1, section 5.2.

"Empirical observations pertaining to learned priors for deep latent
variable models" measures:

- Figure 3: FID of generated samples against beta (log scale) for the VAE,
  the flow-prior VAE (FP-VAE), the AAE and the Prior-AAE
  (`sweep_table`, `write_sweep_results`; plotted by
  `keras_vaes.plotting.save_fid_vs_beta`). The figure's values are lost
  with the paper's figures: its claim is the trend, "FID scores typically
  decrease as beta is decreased for all models" (`beta_trend`).
- Table 1 (CelebA): linear separability (Karras et al.,
  `keras_vaes.metrics.linear_separability`) of z_0 and z_T of the proposed
  model and of the VAE's z, and FID (`PAPER_TABLE1`, `table1_rows`).
- Section 5.2: interpolation in Z_T, `D(lerp(E(x_a), E(x_b), t))`, vs in
  Z_0, `D(f^-1(slerp(f(E(x_a)), f(E(x_b)), t)))` (`interpolate_z_t`,
  `interpolate_z_0`), and the attribute vector of Figure 7
  (`attribute_vector`, `attribute_interpolation`).
"""

import csv
import math
import os

import keras
import numpy as np

from keras_vaes.metrics.separability import linear_separability, single_class_attributes
from keras_vaes.samplers import lerp, slerp
from keras_vaes.utils import check_positive_int

# Table 1 of the paper (CelebA 128x128, latent 128). The beta-VAE row has
# one number in the extracted text, read as its separability.
PAPER_TABLE1 = {
    "VAE": {"separability": 2.14, "fid": 41.4},
    "beta-VAE": {"separability": 2.09},
    "proposed (z_0)": {"separability": 2.82, "fid": 33.1},
    "proposed (z_T)": {"separability": 1.67},
}
# Figure 3's claim (its values are not recoverable from the paper's text).
PAPER_FIGURE3_CLAIM = (
    "FID scores typically decrease as beta is decreased for all models (Figure 3; "
    "the figure's values are not in the paper's text)"
)
MODEL_NAMES = {
    "vae": "VAE (N(0, I) prior)",
    "fp_vae": "FP-VAE (flow prior)",
    "aae": "AAE (N(0, I) prior)",
    "prior_aae": "Prior-AAE (learned prior)",
}
SWEEP_COLUMNS = (
    "model", "beta", "steps", "fid", "reconstruction_mse", "separability_z",
    "separability_z0", "separability_zT", "single_class_attributes", "closer_to_test", "seconds",
)


# ---------------------------------------------------------------------------
# Codes of a model
# ---------------------------------------------------------------------------


def encode_codes(model, images, batch_size=100):
    """z_T = E(x): the posterior mean of a VAE, the code of an AAE."""
    return model.encode(images, batch_size=batch_size).mean


def _has_flow(model):
    prior = getattr(model, "prior", None)
    return prior is not None and hasattr(prior, "forward") and hasattr(prior, "inverse")


def _flow(model):
    prior = getattr(model, "prior", None)
    if not _has_flow(model):
        raise ValueError(
            "Interpolation in Z_0 needs an invertible learned prior (`model.prior` "
            f"with forward/inverse, e.g. the flow-prior VAE). Received: {type(model).__name__} "
            f"with prior={type(prior).__name__}"
        )
    return prior


def to_z0(model, z_t):
    """z_0 = f(z_T) through the model's flow (batched)."""
    prior = _flow(model)
    return np.concatenate([
        keras.ops.convert_to_numpy(prior.forward(z_t[i : i + 500])) for i in range(0, len(z_t), 500)
    ]).astype(np.float32)


def to_z_t(model, z_0):
    """z_T = f^-1(z_0) through the model's flow (batched)."""
    prior = _flow(model)
    return np.concatenate([
        keras.ops.convert_to_numpy(prior.inverse(z_0[i : i + 500])) for i in range(0, len(z_0), 500)
    ]).astype(np.float32)


# ---------------------------------------------------------------------------
# Interpolation (section 5.2, Figures 4, 7, 8)
# ---------------------------------------------------------------------------


def _positions(steps):
    return np.linspace(0.0, 1.0, check_positive_int(steps, "steps", minimum=2))


def _decode_path(model, path):
    # path: (T, N, d) -> images (N, T, H, W, C)
    steps, count, dim = path.shape
    images = model.decode(path.reshape(steps * count, dim))["x_hat"]
    images = images.reshape((steps, count) + images.shape[1:])
    return np.swapaxes(images, 0, 1)


def interpolate_codes_z_t(model, z_a, z_b, steps=8):
    """`D(lerp(z_a, z_b, t))`: interpolation in Z_T (section 5.2)."""
    return _decode_path(model, lerp(z_a, z_b, _positions(steps)))


def interpolate_codes_z_0(model, z_a, z_b, steps=8):
    """`D(f^-1(slerp(f(z_a), f(z_b), t)))`: interpolation in Z_0 (section 5.2)."""
    path = slerp(to_z0(model, z_a), to_z0(model, z_b), _positions(steps))
    flat = to_z_t(model, path.reshape(-1, path.shape[-1]))
    return _decode_path(model, flat.reshape(path.shape))


def interpolate_z_t(model, x_a, x_b, steps=8):
    """Two-image interpolation in Z_T: `D(lerp(E(x_a), E(x_b), t))`.

    Args:
        model: with `encode` and `decode` (any model of the paper).
        x_a, x_b: image batches `(N, H, W, C)`, paired row by row.
        steps: int >= 2. Positions t = linspace(0, 1, steps).

    Returns:
        Images `(N, steps, H, W, C)`.
    """
    return interpolate_codes_z_t(model, encode_codes(model, x_a), encode_codes(model, x_b), steps)


def interpolate_z_0(model, x_a, x_b, steps=8):
    """Two-image interpolation in Z_0: `D(f^-1(slerp(f(E(x_a)), f(E(x_b)), t)))`.

    slerp as White (2016) suggests for a Gaussian z_0 (paper, section 4).
    Needs the model's flow (`model.prior.forward/inverse`). Same arguments
    and output as `interpolate_z_t`.
    """
    return interpolate_codes_z_0(model, encode_codes(model, x_a), encode_codes(model, x_b), steps)


def attribute_vector(codes, attribute):
    """Mean code with the attribute minus the mean code without (section 5.2).

    Args:
        codes: array `(N, d)` of encodings E(x).
        attribute: array `(N,)` of 0/1 (or booleans).

    Returns:
        Array `(d,)`.
    """
    codes = np.asarray(codes, dtype=np.float64)
    attribute = np.asarray(attribute).astype(bool).reshape(-1)
    if codes.ndim != 2 or attribute.shape[0] != codes.shape[0]:
        raise ValueError(
            "`codes` must be (N, d) and `attribute` (N,). Received: "
            f"codes.shape={codes.shape}, attribute.shape={attribute.shape}"
        )
    if attribute.all() or not attribute.any():
        raise ValueError("`attribute` must have both values among the samples.")
    return (codes[attribute].mean(axis=0) - codes[~attribute].mean(axis=0)).astype(np.float32)


def attribute_interpolation(model, images, vector, steps=8):
    """Adding an attribute vector, in Z_0 and in Z_T (Figure 7).

    From E(x) to E(x) + vector: by lerp in Z_T, and by slerp of their flow
    images in Z_0 (mapped back by f^-1).

    Returns:
        `(z_0_rows, z_t_rows)`, images `(N, steps, H, W, C)` each.
    """
    start = encode_codes(model, images)
    end = start + np.asarray(vector, dtype=np.float32)[None]
    return interpolate_codes_z_0(model, start, end, steps), interpolate_codes_z_t(model, start, end, steps)


# ---------------------------------------------------------------------------
# Separability (section 5.1, Table 1)
# ---------------------------------------------------------------------------


def encoding_separability(model, images, attributes, keep=0.5):
    """Separability of the encodings of labelled images.

    The offline analogue of Table 1 when no attribute classifier labels
    generated images: z_T = E(x) of real images with their attributes
    (and z_0 = f(z_T) for a flow-prior model).

    Returns:
        A dict: `{"z": score}` for a model without flow, else
        `{"z_T": score, "z_0": score}`; and `"single_class"`, the number
        of attributes left with one label after pruning (counted as
        perfectly separable, see `single_class_attributes`).
    """
    z_t = encode_codes(model, images)
    return _scores(model, z_t, None, attributes, keep)


def _scores(model, z_t, z_0, attributes, keep):
    scores = {"single_class": single_class_attributes(attributes, keep=keep)}
    if z_0 is None and _has_flow(model):
        z_0 = to_z0(model, z_t)
    if z_0 is None:
        scores["z"] = linear_separability(z_t, attributes, keep=keep)
        return scores
    scores["z_T"] = linear_separability(z_t, attributes, keep=keep)
    scores["z_0"] = linear_separability(z_0, attributes, keep=keep)
    return scores


def generated_separability(model, classify, num_samples, keep=0.5, seed=0):
    """Separability as Karras et al. measure it: on generated samples.

    z_0 ~ N(0, I), z_T = f^-1(z_0) (flow prior), z_T = G(z_0) (Prior-AAE) or
    z_T = z_0 (a fixed prior), x = D(z_T),
    attributes = `classify(x)`; then `linear_separability` of each latent.

    Args:
        model: a flow-prior VAE, a Prior-AAE, or their N(0, I) baselines.
        classify: callable, images -> `(N, A)` attribute probabilities
            (e.g. a classifier's softmax: one-vs-rest classes).
        num_samples: int. Karras et al.: 200,000 (keeping half).
        keep: float. Defaults to 0.5.
        seed: int.

    Returns:
        A dict as `encoding_separability`.
    """
    z_0 = np.random.default_rng(seed).standard_normal((num_samples, model.latent_dim)).astype(np.float32)
    if _has_flow(model):
        z_t = to_z_t(model, z_0)
    elif getattr(model, "code_generator", None) is not None:
        z_t = np.asarray(keras.ops.convert_to_numpy(model.prior_codes(z_0)), dtype=np.float32)
    else:
        z_t, z_0 = z_0, None
    attributes = np.asarray(classify(model.decode(z_t)["x_hat"]))
    return _scores(model, z_t, z_0, attributes, keep)


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


def _fmt(value, digits=2):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def beta_trend(rows, model):
    """Does FID fall as beta falls? Spearman rank correlation of beta and FID.

    Args:
        rows: list of result dicts with `"model"`, `"beta"`, `"fid"`.
        model: the model key.

    Returns:
        `(rho, fid_at_lowest_beta, fid_at_highest_beta)`; rho > 0 means
        lower beta, lower FID (the paper's trend). None when fewer than
        two betas have an FID.
    """
    points = sorted(
        (r["beta"], r["fid"]) for r in rows
        if r["model"] == model and r.get("fid") is not None and np.isfinite(r["fid"])
    )
    if len(points) < 2:
        return None
    betas, fids = np.array(points).T
    rank = lambda v: np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(float)
    rb, rf = rank(betas), rank(fids)
    if np.std(rb) == 0 or np.std(rf) == 0:
        rho = 0.0
    else:
        rho = float(np.corrcoef(rb, rf)[0, 1])
    return rho, float(fids[0]), float(fids[-1])


def sweep_table(rows, fid_label="FID"):
    """Figure 3 as a table: one row per model, one column per beta (markdown)."""
    betas = sorted({r["beta"] for r in rows})
    models = [m for m in MODEL_NAMES if any(r["model"] == m for r in rows)]
    header = "| model | " + " | ".join(f"beta={b:g}" for b in betas) + " | trend (Spearman rho of beta vs FID) |"
    lines = [f"{fid_label} of generated samples vs beta (lower is better).", "", header,
             "|---" * (len(betas) + 2) + "|"]
    for model in models:
        cells = []
        for beta in betas:
            match = [r for r in rows if r["model"] == model and r["beta"] == beta]
            cells.append(_fmt(match[0].get("fid")) if match else "")
        trend = beta_trend(rows, model)
        trend_text = "" if trend is None else (
            f"rho={trend[0]:+.2f}; FID {trend[1]:.2f} at the lowest beta vs {trend[2]:.2f} at the highest"
        )
        lines.append(f"| {MODEL_NAMES[model]} | " + " | ".join(cells) + f" | {trend_text} |")
    return "\n".join(lines)


def table1_rows(rows):
    """Table 1 layout from sweep rows: obtained beside the paper's numbers.

    VAE = the N(0, I) VAE at beta = 1; beta-VAE = the N(0, I) VAE at the
    largest beta > 1 if swept; proposed = the FP-VAE at its lowest beta
    (the paper: beta = 0), z_0 and z_T.
    """
    def pick(model, beta_filter, choose):
        candidates = [r for r in rows if r["model"] == model and beta_filter(r["beta"])]
        return choose(candidates, key=lambda r: r["beta"]) if candidates else None

    vae = pick("vae", lambda b: b == 1.0, max)
    beta_vae = pick("vae", lambda b: b > 1.0, max)
    proposed = pick("fp_vae", lambda b: True, min)
    table = []
    for name, row, sep_key, with_fid in (
        ("VAE", vae, "separability_z", True),
        ("beta-VAE", beta_vae, "separability_z", True),
        ("proposed (z_0)", proposed, "separability_z0", True),
        ("proposed (z_T)", proposed, "separability_zT", False),
    ):
        paper = PAPER_TABLE1[name]
        table.append({
            "row": name,
            "beta": None if row is None else row["beta"],
            "separability": None if row is None else row.get(sep_key),
            "paper_separability": paper.get("separability"),
            "fid": None if (row is None or not with_fid) else row.get("fid"),
            "paper_fid": paper.get("fid"),
        })
    return table


def write_sweep_results(rows, output, header="", fid_label="FID", notes=()):
    """Writes `results.csv` (one row per model and beta) and `results.md`.

    `results.md`: the header, the Figure 3 table (models x betas, with the
    paper's claim beside), the Table 1 layout with the paper's numbers
    beside the obtained ones, every row's details, and the notes (which
    features, which labels, what differs from the paper).

    Returns:
        The markdown text.
    """
    os.makedirs(output, exist_ok=True)
    extra = sorted({k for r in rows for k in r} - set(SWEEP_COLUMNS))
    columns = list(SWEEP_COLUMNS) + extra
    csv_path = os.path.join(output, "results.csv")
    with open(csv_path + ".tmp", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    os.replace(csv_path + ".tmp", csv_path)

    parts = [header.strip(), "", "## Figure 3: FID vs beta", "",
             sweep_table(rows, fid_label), "", f"Paper: {PAPER_FIGURE3_CLAIM}.", ""]
    table1 = table1_rows(rows)
    parts += [
        "## Table 1 layout (the paper: CelebA 128x128; here: this run's data)", "",
        f"| | beta | separability (obtained) | separability (paper) | {fid_label} (obtained) | FID (paper) |",
        "|---|---|---|---|---|---|",
    ]
    for t in table1:
        parts.append(
            f"| {t['row']} | {_fmt(t['beta'])} | {_fmt(t['separability'])} | {_fmt(t['paper_separability'])} "
            f"| {_fmt(t['fid'])} | {_fmt(t['paper_fid'], 1)} |"
        )
    parts += ["", "## Every run", "",
              "| " + " | ".join(SWEEP_COLUMNS) + " |", "|---" * len(SWEEP_COLUMNS) + "|"]
    for r in rows:
        parts.append("| " + " | ".join(
            _fmt(r.get(c), 3) if c != "model" else r["model"] for c in SWEEP_COLUMNS
        ) + " |")
    if notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    text = "\n".join(parts).strip() + "\n"
    md_path = os.path.join(output, "results.md")
    with open(md_path + ".tmp", "w") as f:
        f.write(text)
    os.replace(md_path + ".tmp", md_path)
    return text


# ---------------------------------------------------------------------------
# CelebA attributes (Table 1, Figure 7)
# ---------------------------------------------------------------------------


def read_celeba_attributes(path):
    """Parses `list_attr_celeba.txt`: `(names, {filename: 0/1 array})`.

    The file: the image count, a line of 40 attribute names, then one line
    per image, `000001.jpg -1 1 ...` (1 present, -1 absent).
    """
    with open(path) as f:
        lines = [line.split() for line in f if line.strip()]
    if len(lines) < 3 or not lines[0][0].isdigit():
        raise ValueError(
            f"{path!r} is not a CelebA list_attr_celeba.txt (count line, names line, one "
            "line per image)."
        )
    names = lines[1]
    table = {}
    for fields in lines[2:]:
        if len(fields) != len(names) + 1:
            raise ValueError(
                f"{path!r}: expected {len(names)} attributes per image. Received: {fields[:3]}..."
            )
        table[fields[0]] = (np.asarray(fields[1:], dtype=int) > 0).astype(np.float32)
    return names, table


def celeba_split_attributes(attributes_path, folder, split, limit=None):
    """Attributes of the images `datasets.load_celeba` loads for `split`.

    Mirrors the loader's selection: the `.jpg` files of `folder` in sorted
    order within the official partition, the first `limit`.

    Returns:
        `(names, array (N, 40))`.
    """
    from keras_vaes.datasets import CELEBA_SPLITS

    names, table = read_celeba_attributes(attributes_path)
    start, stop = CELEBA_SPLITS[split]
    files = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    files = [f for f in files if start < int(os.path.splitext(f)[0]) <= stop][:limit]
    missing = [f for f in files if f not in table]
    if missing:
        raise ValueError(f"{attributes_path!r} lacks attributes of {missing[:3]} ({len(missing)} images).")
    return names, np.stack([table[f] for f in files]) if files else np.zeros((0, len(names)))
