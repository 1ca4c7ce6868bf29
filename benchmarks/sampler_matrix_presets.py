"""The sampler matrix on every shipped preset: which sampler generates best?

For each preset of `keras_vaes.pretrained.PRESETS`, every applicable latent
sampler (the model's own prior, N(0, I) when that differs, GMM-10,
GMM-100, the second stage with and without renormalisation, an ex-post
RealNVP flow) is fitted on the codes of training images and judged on test
images (`keras_vaes.evaluation.sampler_matrix`): FD of the dataset's
classifier features (not the papers' Inception FID), improved precision /
recall, time to fit. Resumable: one JSON line per finished preset in
`sampler_matrix.jsonl` (`keras_vaes.ledger.Ledger`, keyed by preset; a
preset recorded with other settings or other weights runs again); `sampler_matrix.md` /
`.csv` are rewritten from all lines.

    python benchmarks/sampler_matrix_presets.py --fit-images 5000 --eval-images 2000
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "data")

DATASET_OF = {"svae_mnist_10ep": "mnist", "gamix_fashion_mnist": "fashion_mnist",
              "fp_vae_mnist_beta0": "mnist"}


def dataset_of(name):
    if name in DATASET_OF:
        return DATASET_OF[name]
    return "fashion_mnist" if "fashion" in name else ("mnist" if "mnist" in name else None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=None, help="comma-separated (default: every MNIST-like preset)")
    parser.add_argument("--fit-images", type=int, default=5000)
    parser.add_argument("--eval-images", type=int, default=2000)
    parser.add_argument("--flow-epochs", type=int, default=30)
    parser.add_argument("--second-epochs", type=int, default=40)
    parser.add_argument("--second-dim", type=int, default=512)
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--output", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)

    import numpy as np

    from keras_vaes import datasets, metrics
    from keras_vaes.evaluation.sampler_matrix import (matrix_rows, sampler_matrix, sampler_matrix_markdown,
                                                      write_sampler_matrix_csv)
    from keras_vaes.ledger import Ledger
    from keras_vaes.pretrained import PRESETS, load_pretrained

    names = args.presets.split(",") if args.presets else [n for n in PRESETS if dataset_of(n)]
    os.makedirs(args.output, exist_ok=True)
    ledger = Ledger(os.path.join(args.output, "sampler_matrix.jsonl"), key="preset")
    done = ledger.read()
    settings = {k: getattr(args, k) for k in ("fit_images", "eval_images", "flow_epochs", "second_epochs",
                                               "second_dim")}
    for name in names:
        # The weights' checksum is a setting: a retrained preset is measured again.
        if name in done and done[name]["settings"] == {**settings, "sha256": PRESETS[name]["sha256"]}:
            continue
        dataset = dataset_of(name)
        start = time.perf_counter()
        model = load_pretrained(name)
        loader = datasets.load_mnist if dataset == "mnist" else datasets.load_fashion_mnist
        (x_train, _), (x_test, _) = loader(os.path.join(args.data_dir, f"{dataset}.npz"))
        low, high = model.value_range
        to_range = lambda x: (low + (high - low) * x).astype(np.float32)
        table = sampler_matrix(
            model, to_range(x_train[: args.fit_images]), to_range(x_test[: args.eval_images]),
            metrics.classifier_extractor(dataset), seed=0,
            flow_options={"epochs": args.flow_epochs},
            second_stage_options={"second_dim": args.second_dim, "epochs": args.second_epochs},
        )
        record = {"preset": name, "dataset": dataset, "settings": {**settings, "sha256": PRESETS[name]["sha256"]},
                  "rows": matrix_rows(table),
                  "seconds": time.perf_counter() - start}
        done[name] = ledger.append(record)
        print(f"[sampler_matrix] {name}: {record['seconds']:.0f} s", flush=True)

    lines = [
        "# Sampler matrix of the shipped presets",
        "",
        "Command: `python benchmarks/sampler_matrix_presets.py " + " ".join(argv or sys.argv[1:]) + "`",
        "",
        f"Every sampler is fitted on the codes (posterior means; the second stage on mu + sigma * eps) of the "
        f"first {args.fit_images} training images and judged by {args.eval_images} generated images against "
        f"the first {args.eval_images} test images: FD of the dataset's classifier features "
        "(`keras_vaes.metrics.classifier_extractor`; NOT comparable with the papers' Inception FIDs), "
        "improved precision / recall (Kynkäänniemi et al. 2019, k = 3) of the same features, seconds to fit "
        f"and to generate (one shared CPU core). Flow: `FlowSampler(epochs={args.flow_epochs})`; second stage: "
        f"`SecondStageSampler(second_dim={args.second_dim}, epochs={args.second_epochs})`, renormalised by the "
        "authors' rule (applied only when var_loss2 / mse2 > 0.25). Best value per column in bold. The presets "
        "are far from converged (see their descriptions in `keras_vaes/pretrained.py`).",
        "",
    ]
    all_rows = []
    for name in [n for n in PRESETS if n in done]:  # every preset measured, not only this call's
        rows = done[name]["rows"]
        lines += sampler_matrix_markdown(rows, title=f"{name} ({done[name]['dataset']})") + [""]
        all_rows += [dict(r, preset=name) for r in rows]
    md = os.path.join(args.output, "sampler_matrix.md")
    with open(md, "w") as f:
        f.write("\n".join(lines) + "\n")
    write_sampler_matrix_csv(all_rows, os.path.join(args.output, "sampler_matrix.csv"))
    print(f"[sampler_matrix] wrote {md}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
