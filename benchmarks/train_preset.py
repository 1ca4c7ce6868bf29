"""Trains a preset until the package's judge says it is a good model, and writes its run record.

For a preset of `keras_vaes.pretrained.PRESETS` with a recipe below: builds
its architecture, trains it epoch by epoch on the dataset's training images,
and after every `--every` epochs scores samples of the model's own prior
against test images on the dataset's classifier features
(`keras_vaes.run_record.PriorJudge`: FD, precision, recall). It stops at the
recipe's target (issue 28), when the FD stops improving, at `--max-epochs`,
or, resumably, at `--minutes` (whole epochs: rerun the same command to go
on; `keras.callbacks.BackupAndRestore` restores weights, Adam's state and
the epoch). Each invocation rewrites the run record in `<output>/<preset>_run/`:
command, config, seed, versions, machine, wall time, history CSV and curves,
a sample grid, the judge's scores and the exported weights (no optimizer
state) with their SHA-256.

    python benchmarks/train_preset.py --preset gamix_fashion_mnist \\
        --data-dir ../shared/data --output runs/presets --minutes 170
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "data")

# What each preset trains with and when it is good enough (issue 28).
RECIPES = {
    # The author's Adam(1e-4, beta_1 0.5) for both networks (`GamixVAE.compile()`), batch 64; good when its own
    # prior's samples reach recall >= 0.4 and FD <= 25 on 10,000 samples.
    "gamix_fashion_mnist": {"dataset": "fashion_mnist", "batch_size": 64, "max_epochs": 40, "min_epochs": 1,
                            "target_fd": 25.0, "target_recall": 0.4, "patience": 5, "gmm": False,
                            "tiny": {"filters": 4, "latent_dim": 8}},
    # Lucic et al.'s Adam(1e-4, beta_1 0.5) (`FlowPriorVAE.compile()`), batch 64; at least 10 epochs, then good
    # when its own flow prior's FD is at most an ex-post GMM-100's on the same codes, or stopped improving.
    "fp_vae_mnist_beta0": {"dataset": "mnist", "batch_size": 64, "max_epochs": 40, "min_epochs": 10,
                           "target_fd": None, "target_recall": None, "patience": 3, "gmm": True,
                           "tiny": {"filters": (4, 8), "dense_units": 16, "num_couplings": 2,
                                    "hidden_units": 8, "latent_dim": 4}},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", required=True, choices=sorted(RECIPES))
    parser.add_argument("--data-dir", default=DATA_DIR, help="folder of mnist.npz / fashion_mnist.npz")
    parser.add_argument("--output", default="runs/presets", help="the run folders go here")
    parser.add_argument("--max-epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--minutes", type=float, default=0.0, help="start no epoch after this many (0: no limit)")
    parser.add_argument("--every", type=int, default=1, help="judge every N epochs")
    parser.add_argument("--judge-images", type=int, default=10000, help="test images and prior samples judged")
    parser.add_argument("--gmm-images", type=int, default=5000, help="training images whose codes fit GMM-100")
    parser.add_argument("--train-images", type=int, default=None, help="first N training images (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="smoke-test widths (not the preset's)")
    args = parser.parse_args(argv)
    for flag in ("every", "judge_images", "gmm_images", "seed"):
        if getattr(args, flag) < (0 if flag == "seed" else 1):
            parser.error(f"--{flag.replace('_', '-')} must be >= {0 if flag == 'seed' else 1}; "
                         f"received {getattr(args, flag)}")
    if args.max_epochs is not None and args.max_epochs < 1:
        parser.error(f"--max-epochs must be >= 1; received {args.max_epochs}")
    if args.minutes < 0:
        parser.error(f"--minutes must be >= 0; received {args.minutes}")

    import keras
    import numpy as np

    import keras_vaes as kv
    from keras_vaes.pretrained import PRESETS
    from keras_vaes.run_record import (
        EpochTimer,
        PriorJudge,
        read_history,
        write_run_record,
    )
    from keras_vaes.utils.files import sha256

    recipe, preset = RECIPES[args.preset], PRESETS[args.preset]
    dataset = recipe["dataset"]
    path = os.path.join(args.data_dir, f"{dataset}.npz")
    if not os.path.exists(path):
        parser.error(f"--data-dir holds no {dataset}.npz (Keras layout); received {args.data_dir}")
    loader = kv.datasets.load_mnist if dataset == "mnist" else kv.datasets.load_fashion_mnist
    (x_train, _), (x_test, _) = loader(path)
    x_train = x_train[: args.train_images]

    config = {**preset["config"], "seed": args.seed, **(recipe["tiny"] if args.tiny else {})}
    keras.utils.set_random_seed(args.seed)
    model = getattr(kv, preset["builder"])(**config)
    model.compile()
    low, high = (float(v) for v in model.value_range)
    x_train = (low + (high - low) * x_train).astype(np.float32)

    run, record_dir = os.path.join(args.output, args.preset), os.path.join(args.output, f"{args.preset}_run")
    log_path = os.path.join(run, "history.csv")
    os.makedirs(run, exist_ok=True)
    earlier = read_history(log_path) if os.path.exists(log_path) else {}
    judge = PriorJudge(
        x_test[: args.judge_images], kv.metrics.classifier_extractor(dataset), every=args.every,
        target_fd=recipe["target_fd"], target_recall=recipe["target_recall"], patience=recipe["patience"],
        min_epochs=recipe["min_epochs"], seed=args.seed,
        gmm_images=x_train[: args.gmm_images] if recipe["gmm"] else None, target_beats_gmm=recipe["gmm"],
    ).resume_from(earlier)
    budget = kv.callbacks.TimeBudget(args.minutes, whole_epochs=True)
    max_epochs = args.max_epochs or recipe["max_epochs"]
    done = len(next(iter(earlier.values()), []))
    state_path = os.path.join(run, "state.json")
    previous = {}
    if os.path.exists(state_path):
        with open(state_path) as f:
            previous = json.load(f)
    ended = previous.get("ended", False)
    if not ended and done < max_epochs:
        model.fit(x_train, batch_size=recipe["batch_size"], epochs=max_epochs, shuffle=True, verbose=2,
                  callbacks=[judge, EpochTimer(), keras.callbacks.CSVLogger(log_path, append=True),
                             keras.callbacks.BackupAndRestore(os.path.join(run, "backup"), delete_checkpoint=False),
                             budget])
    else:  # the run has ended: its last weights make the record
        model.optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(run, "backup", "latest.weights.h5"))
    history = read_history(log_path)
    epochs = len(history.get("loss", []))

    if ended:
        state = previous["state"]
    elif judge.stop_reason:
        state = f"stopped: {judge.stop_reason}"
    elif budget.stopped:
        state = f"paused after epoch {epochs} at the {args.minutes:g}-minute budget: rerun the command to go on"
    else:
        state = f"ended at --max-epochs {max_epochs}"
    ended = ended or judge.stop_reason is not None  # a longer --max-epochs may extend the other ends
    with open(state_path, "w") as f:
        json.dump({"ended": ended, "state": state}, f)
    os.makedirs(record_dir, exist_ok=True)
    weights = os.path.join(record_dir, f"{args.preset}.weights.h5")
    model.export_weights(weights)
    final = judge.evaluate()
    grid = kv.plotting.save_image_grid(
        (model.generate(64, seed=args.seed)["x_hat"] - low) / (high - low),
        os.path.join(record_dir, "samples_prior.png"), ncols=8, title=f"{args.preset}: own prior, epoch {epochs}")
    write_run_record(
        record_dir, command=["python", "benchmarks/train_preset.py"] + list(argv or sys.argv[1:]),
        config={"model": config, "builder": preset["builder"], "recipe": recipe, "max_epochs": max_epochs,
                "train_images": len(x_train), "judge_images": args.judge_images, "tiny": args.tiny},
        seed=args.seed, wall_seconds=float(np.nansum(history.get("epoch_seconds", [0.0]))), history=history,
        extra={"state": state, "final_scores": final, "weights": os.path.basename(weights),
               "sha256": sha256(weights), "bytes": os.path.getsize(weights), "grid": os.path.basename(grid)},
    )
    print(f"[train_preset] {args.preset}: {state}; epoch {epochs}: " +
          ", ".join(f"{k} {v:.3f}" for k, v in final.items()) + f"; record in {record_dir}", flush=True)
    print(json.dumps({"state": state, "epochs": epochs, **final}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
