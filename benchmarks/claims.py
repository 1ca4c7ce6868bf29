"""The papers' headline claims as paired experiments: a claims ledger.

Each claim is run as a paired experiment: the paper's model and its
baseline on the same data (the same images in the same order for a given
seed), the same network width, the same number of steps and the same
seeds. The judge is the same for every arm: the Fréchet distance of the
features of the repository's MNIST classifier ("FD (classifier
features)", Split-VAE eq. (5) on other features; NOT comparable with the
papers' Inception FIDs) and improved precision / recall (Kynkäänniemi et
al. 2019) of those features, generated images against held-out test
images; samplers are fitted on training codes
(`keras_vaes.evaluation.sampler_matrix`).

- C1 Split-VAE (split decoder) vs the same network with a plain decoder
  (`build_svae(..., split=False)`): x_hat after GMM-100 and after N(0, I).
- C2 two-stage VAE: GEN-1 (N(0, I) through the first stage) vs GEN-2 (the
  second stage) vs GEN-2 renormalised, on the same first stage.
- C3 GAMIX-VAE vs its standard-VAE baseline (`kl="standard",
  adversarial=False`): N(0, I) samples and reconstructions.
- C4 flow-prior VAE vs the fixed N(0, I)-prior VAE (`prior="normal"`) at
  beta in {0, 0.1, 1}: samples from each model's own prior.

A verdict per comparison: the paired difference (baseline minus claimed
model for a lower-is-better score) per seed, its mean and standard
deviation over seeds, and a one-sided paired t statistic against the
0.95 quantile of Student's t with n - 1 degrees of freedom: "holds" when
t exceeds it, "does not hold" when -t does (the baseline is better),
"inconclusive" otherwise, all at this budget.

Resumable: one JSON line per finished run in `claims.jsonl` (keyed by
claim, arm, seed and a hash of the run's configuration), skipped when it
exists; `claims.md`, `claims.csv` and one figure per claim are rewritten
from all lines after every run.

    python benchmarks/claims.py --data ../shared/data/mnist.npz            # the ledger
    python benchmarks/claims.py --quick                                    # a smoke run, temp dir
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "mnist.npz")
DEFAULT_OUTPUT = os.path.join(HERE, "results")

# ---------------------------------------------------------------------------
# Profiles: widths and budgets. Both arms of a pair always share them.
# ---------------------------------------------------------------------------

FULL = {
    "name": "full",
    "seeds": (0, 1, 2),
    "fit_images": 5000,      # training images whose codes fit the samplers
    "eval_images": 2000,     # test images of the reference; as many generated
    # C1 / C3 / C2 first ran at 200 steps (base_dim / filters 16): every arm was still in the warm-up
    # (Split-VAE gamma ~0.18 on its way down from 1, MSE at the mean image's level; GAMIX L1 ~0.5), so
    # they were narrowed to buy 700 / 600 steps in about the same time. claims.md reports each budget
    # that has records on its own (runs of different budgets are never compared).
    "svae": {"latent_dim": 32, "beta": 8.0, "base_dim": 8, "emb_dim": 64, "num_scale": 3,
             "learning_rate": 3e-4, "batch_size": 100, "steps": 700, "recalibrate": 2000},
    "gamix": {"latent_dim": 32, "filters": 8, "discriminator_strides": (2, 2, 1, 1, 1, 1),
              "batch_size": 64, "steps": 700},
    "fp": {"latent_dim": 8, "filters": (32, 64), "dense_units": 256, "hidden_units": 64,
           "num_couplings": 4, "learning_rate": 5e-4, "batch_size": 64, "steps": 500,
           "betas": (0.0, 0.1, 1.0)},
    "two_stage": {"latent_dim": 16, "base_dim": 8, "fc_dim": 64, "num_scale": 3,
                  "second_dim": 256, "learning_rate": 3e-4, "batch_size": 100, "steps": 600,
                  "second_epochs": 20},
}

QUICK = {
    "name": "quick",
    "run_eagerly": True,     # a smoke run: tracing the train steps would cost more than the steps
    "seeds": (0,),
    "fit_images": 200,
    "eval_images": 100,
    "svae": {"latent_dim": 8, "beta": 8.0, "base_dim": 4, "emb_dim": 16, "num_scale": 3,
             "learning_rate": 3e-4, "batch_size": 20, "steps": 2, "recalibrate": 40},
    "gamix": {"latent_dim": 8, "filters": 4, "discriminator_strides": (2, 2, 1, 1, 1, 1),
              "batch_size": 16, "steps": 2},
    "fp": {"latent_dim": 4, "filters": (4, 8), "dense_units": 16, "hidden_units": 8,
           "num_couplings": 2, "learning_rate": 5e-4, "batch_size": 16, "steps": 2,
           "betas": (0.0, 1.0)},
    "two_stage": {"latent_dim": 4, "base_dim": 4, "fc_dim": 16, "num_scale": 3,
                  "second_dim": 16, "learning_rate": 3e-4, "batch_size": 20, "steps": 2,
                  "second_epochs": 1},
}

# ---------------------------------------------------------------------------
# Arms: build, train, score. Each returns a record of scores.
# ---------------------------------------------------------------------------


def _training_subset(x_train, steps, batch_size, seed):
    """`steps * batch_size` training images in a seeded order: the same for both arms of a pair."""
    rng = np.random.default_rng(1000 + seed)
    count = steps * batch_size
    order = np.concatenate([rng.permutation(len(x_train)) for _ in range(math.ceil(count / len(x_train)))])
    return x_train[order[:count]]


def _fit(model, images, batch_size):
    history = model.fit(images, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    return logs, all(math.isfinite(v) for v in logs.values())


def _scores_from_matrix(rows):
    return {r["sampler"]: {"fd": r["fd"], "precision": r["precision"], "recall": r["recall"],
                           "fit_seconds": r["fit_seconds"], "note": r["note"]} for r in rows}


def _score_images(images, judge, context):
    """FD / precision / recall of `images` (in [0, 1]) against the reference."""
    from keras_vaes import metrics

    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    if not np.all(np.isfinite(images)):
        return {"fd": None, "precision": None, "recall": None, "note": "non-finite images"}
    features = metrics.extract_features(images, judge, verbose=0)
    ref = context["reference_features"]
    fd = metrics.frechet_distance(ref.mean(0), np.cov(ref, rowvar=False),
                                  features.mean(0), np.cov(features, rowvar=False))
    pr = metrics.precision_recall(ref, features, k=3)
    return {"fd": fd, "precision": pr.precision, "recall": pr.recall, "note": ""}


def _evaluate(model, context, samplers, seed, signed=False):
    """Sampler rows (train codes -> generated vs test) plus reconstructions of other test images."""
    from keras_vaes.evaluation.sampler_matrix import sampler_matrix

    data = context["signed" if signed else "unit"]
    rows = sampler_matrix(
        model, data["fit"], data["reference"], context["judge"], samplers=samplers,
        num_samples=len(data["reference"]), seed=seed,
        reference_features=context["reference_features"],
        flow_options={"epochs": 20}, gmm_max_iter=200,
    )
    scores = _scores_from_matrix(rows)
    rec = np.asarray(model.reconstruct(data["held_out"])["x_hat"])
    scores["rec"] = _score_images((rec + 1) / 2 if signed else rec, context["judge"], context)
    return scores


def run_svae(config, seed, context, split):
    import keras
    import keras_vaes as kv

    c = config["svae"]
    keras.utils.set_random_seed(seed)
    model = kv.build_svae((32, 32, 1), c["latent_dim"], base_dim=c["base_dim"], emb_dim=c["emb_dim"],
                          num_scale=c["num_scale"], beta=c["beta"], split=split, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(c["learning_rate"]), run_eagerly=config.get("run_eagerly", False))
    images = _training_subset(context["unit"]["train"], c["steps"], c["batch_size"], seed)
    start = time.perf_counter()
    logs, finite = _fit(model, images, c["batch_size"])
    train_seconds = time.perf_counter() - start
    if not finite:
        return {"train_seconds": train_seconds, "logs": logs, "scores": {}, "note": "training diverged"}
    # Momentum-0.999 BN statistics are stale after a short run (DESIGN.md): both arms recalibrate.
    model.recalibrate_batch_norm(context["unit"]["train"][: c["recalibrate"]], batch_size=c["batch_size"])
    start = time.perf_counter()
    scores = _evaluate(model, context, ("gmm100", "normal"), seed)
    return {"train_seconds": train_seconds, "eval_seconds": time.perf_counter() - start,
            "logs": logs, "scores": scores, "params": int(model.count_params())}


def run_gamix(config, seed, context, gamix):
    import keras
    import keras_vaes as kv

    c = config["gamix"]
    keras.utils.set_random_seed(seed)
    options = {} if gamix else {"kl": "standard", "adversarial": False}
    model = kv.build_gamix_vae((32, 32, 1), c["latent_dim"], filters=c["filters"],
                               discriminator_strides=c["discriminator_strides"], seed=seed, **options)
    model.compile(run_eagerly=config.get("run_eagerly", False))  # the author's Adam(1e-4, beta_1=0.5), both arms
    images = _training_subset(context["signed"]["train"], c["steps"], c["batch_size"], seed)
    start = time.perf_counter()
    logs, finite = _fit(model, images, c["batch_size"])
    train_seconds = time.perf_counter() - start
    if not finite:
        return {"train_seconds": train_seconds, "logs": logs, "scores": {}, "note": "training diverged"}
    start = time.perf_counter()
    scores = _evaluate(model, context, ("normal",), seed, signed=True)
    return {"train_seconds": train_seconds, "eval_seconds": time.perf_counter() - start,
            "logs": logs, "scores": scores,
            "params": int(model.encoder.count_params() + model.decoder.count_params())}


def run_fp(config, seed, context, prior, beta):
    import keras
    import keras_vaes as kv

    c = config["fp"]
    keras.utils.set_random_seed(seed)
    model = kv.build_flow_prior_vae(
        (32, 32, 1), c["latent_dim"], beta=beta, prior=prior, filters=c["filters"],
        dense_units=c["dense_units"], hidden_units=c["hidden_units"], num_couplings=c["num_couplings"],
        anneal_steps=max(1, c["steps"] // 4), seed=seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(c["learning_rate"], beta_1=0.5),
                  run_eagerly=config.get("run_eagerly", False))
    images = _training_subset(context["unit"]["train"], c["steps"], c["batch_size"], seed)
    start = time.perf_counter()
    logs, finite = _fit(model, images, c["batch_size"])
    train_seconds = time.perf_counter() - start
    if not finite:
        return {"train_seconds": train_seconds, "logs": logs, "scores": {}, "note": "training diverged"}
    start = time.perf_counter()
    scores = _evaluate(model, context, ("prior",), seed)
    return {"train_seconds": train_seconds, "eval_seconds": time.perf_counter() - start,
            "logs": logs, "scores": scores, "params": int(model.count_params())}


def run_two_stage(config, seed, context):
    """C2: one first stage; GEN-1, and a second stage fitted on its training codes, with and without renormalisation."""
    import keras
    from keras_vaes.models.two_stage import FirstStage
    from keras_vaes.samplers.second_stage import SecondStageSampler  # noqa: F401 (ImportError: C2 skipped)

    c = config["two_stage"]
    keras.utils.set_random_seed(seed)
    # The authors' balanced first stage (k * KL, gamma_x = sqrt(mse_est); TF1 zero-debiased BN).
    model = FirstStage((32, 32, 1), c["latent_dim"], base_dim=c["base_dim"], num_scale=c["num_scale"],
                       fc_dim=c["fc_dim"], seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(c["learning_rate"]), run_eagerly=config.get("run_eagerly", False))
    images = _training_subset(context["unit"]["train"], c["steps"], c["batch_size"], seed)
    start = time.perf_counter()
    logs, finite = _fit(model, images, c["batch_size"])
    train_seconds = time.perf_counter() - start
    if not finite:
        return {"train_seconds": train_seconds, "logs": logs, "scores": {}, "note": "training diverged"}
    start = time.perf_counter()
    from keras_vaes.evaluation.sampler_matrix import sampler_matrix

    data = context["unit"]
    rows = sampler_matrix(
        model, data["fit"], data["reference"], context["judge"],
        samplers=("normal", "second_stage", "second_stage_renormalized"),
        num_samples=len(data["reference"]), seed=seed, reference_features=context["reference_features"],
        second_stage_options={"second_dim": c["second_dim"], "epochs": c["second_epochs"]},
    )
    scores = _scores_from_matrix(rows)
    scores = {"gen1": scores["normal"], "gen2": scores["second_stage"],
              "gen2_renormalized": scores["second_stage_renormalized"]}
    rec = np.asarray(model.reconstruct(data["held_out"])["x_hat"])
    scores["rec"] = _score_images(rec, context["judge"], context)
    return {"train_seconds": train_seconds, "eval_seconds": time.perf_counter() - start,
            "logs": logs, "scores": scores, "params": int(model.count_params())}


def arms(config):
    """`{claim: [(arm, run(seed, context) -> record, budget dict)]}` for a profile."""
    fp = config["fp"]
    table = {
        "C1": [
            ("split", lambda s, ctx: run_svae(config, s, ctx, True), config["svae"]),
            ("plain", lambda s, ctx: run_svae(config, s, ctx, False), config["svae"]),
        ],
        "C2": [("two_stage", lambda s, ctx: run_two_stage(config, s, ctx), config["two_stage"])],
        "C3": [
            ("gamix", lambda s, ctx: run_gamix(config, s, ctx, True), config["gamix"]),
            ("standard", lambda s, ctx: run_gamix(config, s, ctx, False), config["gamix"]),
        ],
        "C4": [],
    }
    for beta in fp["betas"]:
        for prior in ("flow", "normal"):
            table["C4"].append((f"{prior}_beta{beta:g}",
                                lambda s, ctx, p=prior, b=beta: run_fp(config, s, ctx, p, b), fp))
    return table


# ---------------------------------------------------------------------------
# Claims: which scores are compared, and the verdict rule.
# ---------------------------------------------------------------------------


def comparisons(config):
    """`{claim: (statement, [(label, claimed (arm, score, metric), baseline (arm, score, metric), lower_is_better)])}`."""
    out = {
        "C1": ("Split-VAE: the split decoder beats the same network with a plain decoder (Figures 14/15).", [
            ("FD, x_hat after GMM-100", ("split", "gmm100", "fd"), ("plain", "gmm100", "fd"), True),
            ("FD, x_hat after N(0, I)", ("split", "normal", "fd"), ("plain", "normal", "fd"), True),
            ("precision after GMM-100", ("split", "gmm100", "precision"), ("plain", "gmm100", "precision"), False),
            ("recall after GMM-100", ("split", "gmm100", "recall"), ("plain", "gmm100", "recall"), False),
        ]),
        "C2": ("Variance loss: the second stage, and renormalising its output, improve generation.", [
            ("FD, GEN-2 vs GEN-1", ("two_stage", "gen2", "fd"), ("two_stage", "gen1", "fd"), True),
            ("FD, GEN-2 renormalised vs GEN-2", ("two_stage", "gen2_renormalized", "fd"),
             ("two_stage", "gen2", "fd"), True),
            ("FD, GEN-2 renormalised vs GEN-1", ("two_stage", "gen2_renormalized", "fd"),
             ("two_stage", "gen1", "fd"), True),
        ]),
        "C3": ("GAMIX-VAE: sharper, less collapsed than a standard VAE of the same network.", [
            ("FD, N(0, I) samples", ("gamix", "normal", "fd"), ("standard", "normal", "fd"), True),
            ("FD, reconstructions", ("gamix", "rec", "fd"), ("standard", "rec", "fd"), True),
            ("recall, N(0, I) samples (less collapsed)", ("gamix", "normal", "recall"),
             ("standard", "normal", "recall"), False),
            ("precision, N(0, I) samples (sharper)", ("gamix", "normal", "precision"),
             ("standard", "normal", "precision"), False),
        ]),
    }
    betas = config["fp"]["betas"]
    low, high = min(betas), max(betas)
    c4 = [
        (f"flow prior: FD at beta={low:g} below beta={high:g}", (f"flow_beta{low:g}", "prior", "fd"),
         (f"flow_beta{high:g}", "prior", "fd"), True),
        (f"fixed prior: FD at beta={high:g} below beta={low:g} (lowering beta hurts)",
         (f"normal_beta{high:g}", "prior", "fd"), (f"normal_beta{low:g}", "prior", "fd"), True),
    ]
    c4 += [(f"FD, flow vs fixed prior at beta={b:g}", (f"flow_beta{b:g}", "prior", "fd"),
            (f"normal_beta{b:g}", "prior", "fd"), True) for b in betas]
    out["C4"] = ("Learned priors: with a learned prior, lowering beta to 0 improves samples, "
                 "while a fixed prior gets worse.", c4)
    return out


def t_quantile_95(dof):
    """One-sided 0.95 quantile of Student's t with `dof` degrees of freedom."""
    try:
        from scipy import stats

        return float(stats.t.ppf(0.95, dof))
    except ImportError:  # scipy comes with scikit-learn; a table for the few seeds used here
        return {1: 6.314, 2: 2.920, 3: 2.353, 4: 2.132, 5: 2.015}.get(dof, 1.645)


def verdict(differences):
    """Paired differences (positive favours the claim) -> (mean, std, t, verdict)."""
    d = np.asarray([x for x in differences if x is not None and math.isfinite(x)], dtype=float)
    if len(d) < 2:
        return (float(d.mean()) if len(d) else None), None, None, f"inconclusive (only {len(d)} seed(s))"
    mean, std = float(d.mean()), float(d.std(ddof=1))
    if std == 0.0:
        t = math.inf if mean > 0 else (-math.inf if mean < 0 else 0.0)
    else:
        t = mean / (std / math.sqrt(len(d)))
    threshold = t_quantile_95(len(d) - 1)
    if t > threshold:
        text = "holds"
    elif t < -threshold:
        text = "does not hold"
    else:
        text = "inconclusive"
    return mean, std, t, text


# ---------------------------------------------------------------------------
# Records, tables, figures
# ---------------------------------------------------------------------------


def run_key(claim, arm, seed, budget, profile):
    digest = hashlib.sha256(json.dumps([profile, budget], sort_keys=True, default=list).encode()).hexdigest()[:10]
    return f"{claim}/{arm}/seed{seed}/{digest}"


def read_records(path):
    records = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    record = json.loads(line)
                    records[record["key"]] = record
    return records


def _score(record, score, metric):
    value = (record.get("scores") or {}).get(score, {}).get(metric) if record else None
    return value if value is None or math.isfinite(value) else None


def _fmt(value, digits=2):
    if value is None:
        return "—"
    return f"{value:+.{-digits}f}" if digits < 0 else f"{value:.{digits}f}"


def _mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else 0.0), len(values)


def _budgets_of(claim, records, config):
    """The profile's budget of `claim` first, then every other budget its records were run at (by steps)."""
    current = arms(config)[claim][0][2]
    others = {}
    for record in records.values():
        if record.get("claim") == claim and record.get("profile") == config["name"]:
            budget = record.get("budget") or {}
            if json.dumps(budget, sort_keys=True, default=list) != json.dumps(current, sort_keys=True, default=list):
                others[json.dumps(budget, sort_keys=True, default=list)] = budget
    return [(current, True)] + [(b, False) for b in sorted(others.values(), key=lambda b: b.get("steps", 0))]


def summarise(records, config, claims):
    """Per claim and budget: arm tables (mean +- std), comparisons with verdicts; also the CSV rows.

    A claim run at several budgets (the profile's, and earlier ones kept in
    claims.jsonl) gets one entry per budget; runs of different budgets are
    never mixed in one comparison.
    """
    table_arms = arms(config)
    statements = comparisons(config)
    summary, csv_rows = [], []
    for claim in claims:
        for budget, current in _budgets_of(claim, records, config):
            by_arm = {}
            for arm, _, _ in table_arms[claim]:
                by_arm[arm] = {seed: records.get(run_key(claim, arm, seed, budget, config["name"]))
                               for seed in config["seeds"]}
                for seed, record in by_arm[arm].items():
                    if record is None:
                        continue
                    for score, values in (record.get("scores") or {}).items():
                        csv_rows.append([claim, arm, seed, score, values.get("fd"), values.get("precision"),
                                         values.get("recall"), record.get("train_seconds"), record.get("steps"),
                                         record.get("note", "")])
            if not current and not any(r for runs in by_arm.values() for r in runs.values()):
                continue
            results = []
            statement, items = statements[claim]
            for label, claimed, baseline, lower in items:
                diffs = []
                for seed in config["seeds"]:
                    a = _score(by_arm.get(claimed[0], {}).get(seed), claimed[1], claimed[2])
                    b = _score(by_arm.get(baseline[0], {}).get(seed), baseline[1], baseline[2])
                    diffs.append(None if a is None or b is None else ((b - a) if lower else (a - b)))
                mean, std, t, text = verdict(diffs)
                results.append({"label": label, "claimed": claimed, "baseline": baseline, "lower": lower,
                                "diffs": diffs, "mean": mean, "std": std, "t": t, "verdict": text})
            name = f"claims_{claim}.png" if current else f"claims_{claim}_{budget.get('steps')}steps.png"
            summary.append({"claim": claim, "budget": budget, "current": current, "statement": statement,
                            "by_arm": by_arm, "comparisons": results, "figure": name})
    return summary, csv_rows


MEAN_IMAGE_MSE = 0.0515  # per-pixel MSE of the MNIST training mean image (32x32), training and test alike
MEAN_IMAGE_L1 = 0.230    # per-pixel L1 of that mean image on [-1, 1] data (GAMIX's scale)
MEAN_IMAGE_FD = 425.6    # FD (classifier features) of 2000 copies of that mean image vs the 2000 reference images


def _untrained(entry):
    """Whether every arm still reconstructs held-out images about as badly as the mean image (FD)."""
    values = [_score(r, "rec", "fd") for runs in entry["by_arm"].values() for r in runs.values() if r]
    values = [v for v in values if v is not None]
    return bool(values) and min(values) > 0.85 * MEAN_IMAGE_FD


def _training_log_line(entry):
    """The arms' final training logs (seed means): how far training got at this budget."""
    parts = []
    for arm, runs in entry["by_arm"].items():
        done = [r for r in runs.values() if r and r.get("logs")]
        keys = [k for k in ("mse", "gamma", "l1", "reconstruction") if done and all(k in r["logs"] for r in done)]
        if keys:
            parts.append(f"{arm}: " + ", ".join(f"{k} {np.mean([r['logs'][k] for r in done]):.3g}" for k in keys))
    if not parts:
        return ""
    return ("Training logs, mean over seeds (each averaged over the run's steps, early ones included; the mean "
            f"image's per-pixel `mse` is {MEAN_IMAGE_MSE}, its `l1` on GAMIX's [-1, 1] data {MEAN_IMAGE_L1}): "
            + "; ".join(parts) + ".")


def _budget_label(entry):
    budget = entry["budget"]
    width = ", ".join(f"{k} {budget[k]}" for k in ("base_dim", "emb_dim", "fc_dim", "filters", "dense_units")
                      if k in budget)
    which = "the profile's budget (described above)" if entry["current"] else "an earlier budget of this profile"
    return f"{budget.get('steps')} steps of batch {budget.get('batch_size')}, {width}: {which}"


def _arm_lines(claim, entry):
    scores = sorted({s for runs in entry["by_arm"].values() for r in runs.values() if r
                     for s in (r.get("scores") or {})})
    lines = ["| arm | score | FD | precision | recall | seeds | train s / run |", "|---|---|---|---|---|---|---|"]
    for arm, runs in entry["by_arm"].items():
        done = [r for r in runs.values() if r]
        seconds = _mean_std([r.get("train_seconds") for r in done])[0]
        for score in scores:
            cells = []
            for metric, digits in (("fd", 2), ("precision", 3), ("recall", 3)):
                mean, std, n = _mean_std([_score(r, score, metric) for r in done])
                cells.append("—" if mean is None else f"{mean:.{digits}f} ± {std:.{digits}f}")
            n = _mean_std([_score(r, score, "fd") for r in done])[2]
            if n == 0 and not done:
                continue
            lines.append(f"| {arm} | {score} | " + " | ".join(cells) + f" | {n} | {_fmt(seconds, 0)} |")
        notes = sorted({r.get("note") for r in done if r.get("note")})
        rules = [f"s{r['seed']}: " + part.strip() for r in done for score in (r.get("scores") or {}).values()
                 for part in (score.get("note") or "").split(";") if "var_loss2" in part]
        if rules:
            lines.append(f"| {arm} | renormalisation rule | {'; '.join(rules)} | | | | |")
        if notes:
            lines.append(f"| {arm} | note | {'; '.join(notes)} | | | | |")
    return lines


def _comparison_lines(entry, seeds):
    lines = ["| comparison (claimed vs baseline) | paired difference per seed (+ favours the claim) "
             "| mean ± std | t | verdict |", "|---|---|---|---|---|"]
    for c in entry["comparisons"]:
        per_seed = ", ".join(f"s{s}: {_fmt(d, -2) if d is not None else '—'}" for s, d in zip(seeds, c["diffs"]))
        spread = "—" if c["mean"] is None else f"{c['mean']:+.3f} ± {_fmt(c['std'], 3)}"
        t = "—" if c["t"] is None else (f"{c['t']:+.2f}" if math.isfinite(c["t"]) else ("+inf" if c["t"] > 0 else "-inf"))
        lines.append(f"| {c['label']} | {per_seed} | {spread} | {t} | **{c['verdict']}** |")
    return lines


def write_figures(summary, config, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {}
    for entry in summary:
        claim, by_arm = entry["claim"], entry["by_arm"]
        if not any(r for runs in by_arm.values() for r in runs.values()):
            continue
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        if claim == "C4":
            betas = list(config["fp"]["betas"])
            for prior, marker in (("flow", "o"), ("normal", "s")):
                stats = [_mean_std([_score(r, "prior", "fd") for r in by_arm.get(f"{prior}_beta{b:g}", {}).values() if r])
                         for b in betas]
                xs = [i for i, s in enumerate(stats) if s[0] is not None]
                ax.errorbar(xs, [stats[i][0] for i in xs], yerr=[stats[i][1] for i in xs], marker=marker,
                            capsize=4, label="learned flow prior" if prior == "flow" else "fixed N(0, I) prior")
            ax.set_xticks(range(len(betas)), [f"beta={b:g}" for b in betas])
            ax.set_ylabel("FD (classifier features), own-prior samples")
        else:
            scores = sorted({s for runs in by_arm.values() for r in runs.values() if r for s in (r.get("scores") or {})})
            arm_names = list(by_arm)
            width = 0.8 / max(1, len(arm_names))
            for j, arm in enumerate(arm_names):
                stats = [_mean_std([_score(r, s, "fd") for r in by_arm[arm].values() if r]) for s in scores]
                xs = [i + j * width for i, st in enumerate(stats) if st[0] is not None]
                ax.bar(xs, [st[0] for st in stats if st[0] is not None], width,
                       yerr=[st[1] for st in stats if st[0] is not None], capsize=4, label=arm)
            ax.set_xticks([i + 0.4 - width / 2 for i in range(len(scores))], scores)
            ax.set_ylabel("FD (classifier features)")
        ax.set_title(f"{claim}, {entry['budget'].get('steps')} steps: mean ± std over seeds (lower is better)",
                     fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(output, entry["figure"])
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths[entry["figure"]] = path
    return paths


def describe_profile(config):
    s, g, f, t = config["svae"], config["gamix"], config["fp"], config["two_stage"]
    return [
        f"- C1: `build_svae((32, 32, 1), {s['latent_dim']}, base_dim={s['base_dim']}, emb_dim={s['emb_dim']}, "
        f"num_scale={s['num_scale']}, beta={s['beta']:g}, split=True/False)` (paper: base_dim 64, emb_dim 512, "
        f"num_scale 4), Adam({s['learning_rate']:g}), batch {s['batch_size']}, {s['steps']} steps; BN statistics "
        f"recalibrated on {s['recalibrate']} training images after training (both arms).",
        f"- C2: the first stage is `FirstStage((32, 32, 1), {t['latent_dim']}, base_dim={t['base_dim']}, "
        f"num_scale={t['num_scale']}, fc_dim={t['fc_dim']})` (the authors' balanced ResNet VAE, k * KL, zero-debiased "
        f"BN; their configurations: latent 64, base_dim 32, fc_dim 512), Adam({t['learning_rate']:g}), batch "
        f"{t['batch_size']}, {t['steps']} steps; the second stage `SecondStageSampler(second_dim={t['second_dim']}, "
        f"epochs={t['second_epochs']})` (authors: 2048-4096 wide, hundreds of epochs) fitted on its training codes "
        "(mu + sigma * eps); GEN-2 renormalised = the same second stage with the authors' rule (renormalise only "
        "when var_loss2 / mse2 > 0.25).",
        f"- C3: `build_gamix_vae((32, 32, 1), {g['latent_dim']}, filters={g['filters']}, discriminator_strides="
        f"{g['discriminator_strides']})` (the package's CPU configuration has filters 32) vs the same with "
        f"`kl=\"standard\", adversarial=False`; the author's Adam(1e-4, beta_1=0.5), batch {g['batch_size']}, "
        f"{g['steps']} steps, data in [-1, 1].",
        f"- C4: `build_flow_prior_vae((32, 32, 1), {f['latent_dim']}, prior=\"flow\"/\"normal\", filters="
        f"{f['filters']}, dense_units={f['dense_units']}, num_couplings={f['num_couplings']}, hidden_units="
        f"{f['hidden_units']}, anneal_steps={max(1, f['steps'] // 4)})` (paper network: filters (64, 128), dense "
        f"1024; flow 8 x 256), Adam({f['learning_rate']:g}, beta_1=0.5), batch {f['batch_size']}, {f['steps']} "
        f"steps, beta in {list(f['betas'])}, gamma 1.",
        f"- Samplers fitted on the codes of {config['fit_images']} training images; scores of "
        f"{config['eval_images']} generated images against the first {config['eval_images']} MNIST test images; "
        f"reconstructions (`rec`) of the next {config['eval_images']} test images.",
    ]


def write_reports(records, config, claims, output, command):
    from keras_vaes.metrics import classifier

    summary, csv_rows = summarise(records, config, sorted(claims))
    figures = write_figures(summary, config, output)
    lines = [
        "# Claims ledger: each paper's headline claim as a paired experiment",
        "",
        f"Command: `{command}` (resumable: one JSON line per finished run in `claims.jsonl`).",
        "",
        f"MNIST 32x32 (zero-padded), seeds {list(config['seeds'])}; for each seed both arms of a pair see the same "
        "training images in the same order, from the same initial random state, for the same number of steps. "
        f"Judge: {classifier.describe('mnist')}, and improved precision / recall (Kynkäänniemi et al. 2019, "
        "k = 3) of the same features.",
        "",
        "**Widths and budgets are reduced** so that the whole ledger (about 30 trainings) fits in about 45 "
        "minutes of one CPU core on a machine shared by several jobs; both arms of every pair share the same "
        "reduced network and budget, so each pair is a fair comparison at this budget, not a reproduction of "
        "the papers' fully trained models (which train for hundreds of epochs):",
        "",
    ]
    lines += describe_profile(config)
    lines += [
        "",
        "Verdict per comparison: paired difference per seed (baseline minus claimed model for FD, claimed minus "
        "baseline for precision / recall: positive favours the claim), its mean ± std over seeds, the paired t "
        "statistic mean / (std / sqrt(n)); **holds** when t exceeds the one-sided 0.95 quantile of Student's t "
        "with n - 1 degrees of freedom (2.92 for 3 seeds), **does not hold** when -t does (the baseline is "
        "better), **inconclusive** otherwise. All at this budget.",
        "",
    ]
    previous = None
    for entry in summary:
        claim = entry["claim"]
        if claim != previous:
            lines += [f"## {claim}", "", entry["statement"], ""]
            previous = claim
        done = [r for runs in entry["by_arm"].values() for r in runs.values() if r]
        wall = sum(r.get("wall_seconds", 0.0) for r in done) / 60.0
        lines += [f"### {claim} at {_budget_label(entry)}", ""]
        if not done:
            lines += ["Not run yet: `claims.py` runs it next (into the same claims.jsonl).", ""]
            continue
        lines += [f"{len(done)} runs, {wall:.1f} min of one core in all (training, fitting the samplers, scoring).", ""]
        lines += _arm_lines(claim, entry) + [""]
        logs = _training_log_line(entry)
        lines += [logs, ""] if logs else []
        if _untrained(entry):
            lines += [f"**Every arm's reconstructions of held-out images score about as the mean image does (FD "
                      f"{MEAN_IMAGE_FD} for 2000 copies of the mean training image): at this budget the models are "
                      "still untrained, and these verdicts say nothing about the claim.**", ""]
        lines += _comparison_lines(entry, config["seeds"]) + [""]
        lines += [f"![{claim}]({entry['figure']})", ""]
    header = ["claim", "arm", "seed", "score", "fd", "precision", "recall", "train_seconds", "steps", "note"]
    import csv
    import io

    from keras_vaes.utils import atomic_write

    buffer = io.StringIO()
    csv.writer(buffer).writerows([header] + csv_rows)

    def text_writer(content):
        def write(tmp):
            with open(tmp, "w", newline="") as f:
                f.write(content)
        return write

    atomic_write(os.path.join(output, "claims.md"), text_writer("\n".join(lines) + "\n"))
    atomic_write(os.path.join(output, "claims.csv"), text_writer(buffer.getvalue()))
    return summary


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def load_context(data_path, config):
    from keras_vaes import datasets
    from keras_vaes import metrics

    (x_train, _), (x_test, _) = datasets.load_mnist(data_path)
    n_fit, n_eval = config["fit_images"], config["eval_images"]
    unit = {"train": x_train, "fit": x_train[:n_fit], "reference": x_test[:n_eval],
            "held_out": x_test[n_eval: 2 * n_eval]}
    signed = {k: (2.0 * v - 1.0).astype(np.float32) for k, v in unit.items()}
    judge = metrics.classifier_extractor("mnist")
    reference_features = metrics.extract_features(unit["reference"], judge, verbose=0)
    return {"unit": unit, "signed": signed, "judge": judge, "reference_features": reference_features}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="Keras-layout mnist.npz")
    parser.add_argument("--output", default=None,
                        help="folder of claims.jsonl / .md / .csv / figures (default benchmarks/results; "
                             "--quick: a new temp dir)")
    parser.add_argument("--claims", default="C1,C3,C4,C2", help="comma-separated, run in this order")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few steps, one seed")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default: the profile's)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite claims.md / .csv / figures from claims.jsonl, train nothing")
    args = parser.parse_args(argv)

    config = dict(QUICK if args.quick else FULL)
    if args.seeds:
        config["seeds"] = tuple(int(s) for s in args.seeds.split(","))
    output = args.output or (tempfile.mkdtemp(prefix="claims_quick_") if args.quick else DEFAULT_OUTPUT)
    os.makedirs(output, exist_ok=True)
    claims = [c.strip() for c in args.claims.split(",") if c.strip()]
    table = arms(config)
    unknown = [c for c in claims if c not in table]
    if unknown:
        parser.error(f"unknown claims {unknown}; expected among {sorted(table)}")
    # The command that (re)produces the whole ledger, whatever subset this invocation ran.
    command = "python benchmarks/claims.py " + ("--quick" if args.quick else "--data ../shared/data/mnist.npz")
    command += f" --seeds {args.seeds}" if args.seeds else ""
    path = os.path.join(output, "claims.jsonl")
    records = read_records(path)
    started = time.perf_counter()
    context = None if args.report_only else load_context(args.data, config)
    for claim in [] if args.report_only else claims:
        for seed in config["seeds"]:
            for arm, run, budget in table[claim]:
                key = run_key(claim, arm, seed, budget, config["name"])
                if key in records:
                    continue
                t0 = time.perf_counter()
                try:
                    record = run(seed, context)
                except ImportError as error:
                    print(f"[claims] {claim} {arm} seed {seed}: skipped ({error})", flush=True)
                    break
                record.update(key=key, claim=claim, arm=arm, seed=seed, profile=config["name"],
                              budget=budget, steps=budget["steps"], batch_size=budget["batch_size"],
                              wall_seconds=time.perf_counter() - t0,
                              finished_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
                with open(path, "a") as f:
                    f.write(json.dumps(record, default=float) + "\n")
                records[key] = record
                print(f"[claims] {claim} {arm} seed {seed}: {record['wall_seconds']:.0f} s, "
                      + ", ".join(f"{s} FD {_fmt(v.get('fd'))}" for s, v in record["scores"].items())
                      + f" (total {time.perf_counter() - started:.0f} s)", flush=True)
                write_reports(records, config, claims, output, command)
    summary = write_reports(records, config, claims, output, command)
    for entry in summary:
        for c in entry["comparisons"]:
            print(f"[claims] {entry['claim']} ({entry['budget'].get('steps')} steps) {c['label']}: {c['verdict']}",
                  flush=True)
    print(f"[claims] wrote {output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
