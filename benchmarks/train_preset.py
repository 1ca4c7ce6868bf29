"""Trains a preset until the package's judge says it is a good model, and writes its run record.

For a preset with a recipe below (`keras_vaes.pretrained.PRESETS`, or a new
one built on a shipped preset's configuration): builds its architecture,
trains it epoch by epoch on the dataset's training images, and after every
`--every` epochs scores samples of the model's own prior against test
images on the dataset's classifier features
(`keras_vaes.run_record.PriorJudge`: FD, precision, recall). It stops at the
recipe's target (issue 28), when the FD stops improving, at `--max-epochs`,
or, resumably, at `--minutes` (whole epochs: rerun the same command to go
on; `keras.callbacks.BackupAndRestore` restores weights, Adam's state and
the epoch). A two-stage recipe first loads (a shipped preset's) or trains
its first stage, then trains the second on its codes until the second
stage's loss stops falling (`keras_vaes.run_record.LossPlateau`), judging
GEN-2. Each invocation rewrites the run record in `<output>/<preset>_run/`:
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
    # Two-stage VAE (Asperti / Dai & Wipf): the authors' Adam(epsilon 1e-8), batch 100, step decay. The first stage
    # is the shipped preset's (5 epochs, weights/two_stage_mnist_run); the second is trained afresh on its codes
    # until its loss stops falling: less than 0.1 in 10 epochs (0.1% of ~86), GEN-2 judged every 10 epochs.
    "two_stage_mnist": {"dataset": "mnist", "kind": "two_stage", "batch_size": 100, "first_stage_from":
                        "two_stage_mnist", "max_epochs": 300, "lr2": 1e-4, "lr_epochs2": 100, "min_delta": 0.1,
                        "patience": 10, "min_epochs": 20, "every": 10,
                        "tiny": {"latent_dim": 4, "base_dim": 4, "fc_dim": 16, "second_dim": 16}},
    # The same configuration on Fashion-MNIST (the paper's Table 1 has it), both stages trained here: stage 1 at the
    # MNIST preset's schedule (5 epochs, lr 1e-3 halved every 2), stage 2 as above.
    "two_stage_fashion_mnist": {"dataset": "fashion_mnist", "kind": "two_stage", "batch_size": 100,
                                "config_from": "two_stage_mnist", "first_stage_from": None, "epochs1": 5,
                                "lr1": 1e-3, "lr_epochs1": 2, "max_epochs": 300, "lr2": 1e-4, "lr_epochs2": 100,
                                "min_delta": 0.1, "patience": 10, "min_epochs": 20, "every": 10,
                                "tiny": {"latent_dim": 4, "base_dim": 4, "fc_dim": 16, "second_dim": 16}},
}


def _first_stage(model, recipe, x_train, run, args):
    """Loads or trains a two-stage recipe's first stage (resumable).

    Returns `{"source", "epochs", "seconds", "paused", "history"}`.
    """
    import time

    import keras
    import numpy as np

    import keras_vaes as kv
    from keras_vaes.models.stage_training import compile_stage
    from keras_vaes.run_record import EpochTimer, read_history

    if recipe["first_stage_from"] and not args.tiny:
        name = recipe["first_stage_from"]
        source = kv.load_pretrained(name, weights_dir=os.path.join(os.path.dirname(HERE), "weights"))
        model.first_stage.set_weights(source.first_stage.get_weights())
        source.first_stage.copy_balancing_to(model.first_stage)  # gamma and the MSE estimate are not weights
        return {"source": f"preset {name} (weights/{name}_run)", "epochs": 0, "seconds": 0.0, "paused": False,
                "history": {}}
    epochs1 = 1 if args.tiny else recipe["epochs1"]
    log_path, backup = os.path.join(run, "history_stage1.csv"), os.path.join(run, "backup_stage1")
    done = len(read_history(log_path).get("loss", [])) if os.path.exists(log_path) else 0
    compile_stage(model.first_stage, recipe["lr1"])
    start = time.time()
    if done < epochs1:
        model.fit_first_stage(
            x_train, epochs1, recipe["batch_size"], recipe["lr1"], recipe["lr_epochs1"], verbose=2, seed=args.seed,
            callbacks=[EpochTimer(), keras.callbacks.CSVLogger(log_path, append=True),
                       keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False),
                       kv.callbacks.TimeBudget(args.minutes, whole_epochs=True)])
    else:
        model.first_stage.load_weights(os.path.join(backup, "latest.weights.h5"))
    history = read_history(log_path)
    epochs = len(history.get("loss", []))
    return {"source": f"trained here, {epochs} of {epochs1} epochs", "epochs": epochs, "paused": epochs < epochs1,
            "seconds": float(np.nansum(history.get("epoch_seconds", [0.0]))), "spent": time.time() - start,
            "history": history}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", required=True, choices=sorted(RECIPES))
    parser.add_argument("--data-dir", default=DATA_DIR, help="folder of mnist.npz / fashion_mnist.npz")
    parser.add_argument("--output", default="runs/presets", help="the run folders go here")
    parser.add_argument("--max-epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--minutes", type=float, default=0.0, help="start no epoch after this many (0: no limit)")
    parser.add_argument("--every", type=int, default=None, help="judge every N epochs (default: the recipe's)")
    parser.add_argument("--judge-images", type=int, default=10000, help="test images and prior samples judged")
    parser.add_argument("--gmm-images", type=int, default=5000, help="training images whose codes fit GMM-100")
    parser.add_argument("--train-images", type=int, default=None, help="first N training images (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="smoke-test widths (not the preset's)")
    args = parser.parse_args(argv)
    args.every = args.every if args.every is not None else RECIPES[args.preset].get("every", 1)
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
    from keras_vaes.models.stage_training import compile_stage
    from keras_vaes.pretrained import PRESETS
    from keras_vaes.run_record import (
        EpochTimer,
        LossPlateau,
        PriorJudge,
        read_history,
        write_run_record,
    )
    from keras_vaes.utils.files import sha256

    recipe = RECIPES[args.preset]
    preset = PRESETS.get(args.preset) or PRESETS[recipe["config_from"]]
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
    two_stage = recipe.get("kind") == "two_stage"
    if not two_stage:
        model.compile()
    low, high = (float(v) for v in model.value_range)
    x_train = (low + (high - low) * x_train).astype(np.float32)

    run, record_dir = os.path.join(args.output, args.preset), os.path.join(args.output, f"{args.preset}_run")
    log_path = os.path.join(run, "history.csv")
    os.makedirs(run, exist_ok=True)
    earlier = read_history(log_path) if os.path.exists(log_path) else {}
    judge = PriorJudge(
        x_test[: args.judge_images], kv.metrics.classifier_extractor(dataset), every=args.every,
        target_fd=recipe.get("target_fd"), target_recall=recipe.get("target_recall"),
        patience=None if two_stage else recipe["patience"], min_epochs=recipe["min_epochs"], seed=args.seed,
        gmm_images=x_train[: args.gmm_images] if recipe.get("gmm") else None,
        target_beats_gmm=recipe.get("gmm", False), model=model if two_stage else None,
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
    plateau, first_stage = None, {}
    if two_stage:
        first_stage = _first_stage(model, recipe, x_train, run, args)
        if args.minutes:  # what the first stage left of the budget (never 0: that is no limit)
            budget = kv.callbacks.TimeBudget(max(args.minutes - first_stage.get("spent", 0.0) / 60, 0.01),
                                             whole_epochs=True)
        plateau = LossPlateau("loss", min_delta=recipe["min_delta"], patience=recipe["patience"],
                              min_epochs=recipe["min_epochs"]).resume_from(earlier)
    callbacks = [judge, EpochTimer(), keras.callbacks.CSVLogger(log_path, append=True),
                 keras.callbacks.BackupAndRestore(os.path.join(run, "backup"), delete_checkpoint=False),
                 budget] + ([plateau] if plateau else [])
    if first_stage.get("paused"):
        pass  # the first stage used the budget: the second starts on the next invocation
    elif not ended and done < max_epochs:
        if two_stage:
            compile_stage(model.second_stage, recipe["lr2"])
            model.fit_second_stage(x_train, max_epochs, recipe["batch_size"], recipe["lr2"], recipe["lr_epochs2"],
                                   callbacks=callbacks, verbose=2, seed=args.seed + 1)
        else:
            model.fit(x_train, batch_size=recipe["batch_size"], epochs=max_epochs, shuffle=True, verbose=2,
                      callbacks=callbacks)
    else:  # the run has ended: its last weights make the record
        fitted = model.second_stage if two_stage else model
        if two_stage:
            compile_stage(fitted, recipe["lr2"])
        else:
            fitted.optimizer.build(fitted.trainable_variables)
        fitted.load_weights(os.path.join(run, "backup", "latest.weights.h5"))
    history = read_history(log_path) if os.path.exists(log_path) else {}
    epochs = len(history.get("loss", []))

    if ended:
        state = previous["state"]
    elif first_stage.get("paused"):
        state = (f"first stage paused after epoch {first_stage['epochs']} at the {args.minutes:g}-minute budget: "
                 "rerun the command to go on")
    elif judge.stop_reason or (plateau and plateau.stop_reason):
        state = f"stopped: {judge.stop_reason or plateau.stop_reason}"
    elif budget.stopped:
        state = f"paused after epoch {epochs} at the {args.minutes:g}-minute budget: rerun the command to go on"
    else:
        state = f"ended at --max-epochs {max_epochs}"
    # A longer --max-epochs may extend the other ends.
    ended = ended or judge.stop_reason is not None or bool(plateau and plateau.stop_reason)
    with open(state_path, "w") as f:
        json.dump({"ended": ended, "state": state}, f)
    os.makedirs(record_dir, exist_ok=True)
    weights = os.path.join(record_dir, f"{args.preset}.weights.h5")
    model.export_weights(weights)
    judge.set_model(model)  # also when no fit ran this time
    final = judge.evaluate()
    grid = kv.plotting.save_image_grid(
        (model.generate(64, seed=args.seed)["x_hat"] - low) / (high - low),
        os.path.join(record_dir, "samples_prior.png"), ncols=8, title=f"{args.preset}: own prior, epoch {epochs}")
    command = ["python", "benchmarks/train_preset.py"] + list(argv or sys.argv[1:])
    write_run_record(
        record_dir, command=command,
        config={"model": config, "builder": preset["builder"], "recipe": recipe, "max_epochs": max_epochs,
                "train_images": len(x_train), "judge_images": args.judge_images, "tiny": args.tiny},
        seed=args.seed, history=history,
        wall_seconds=float(np.nansum(history.get("epoch_seconds", [0.0]))) + first_stage.get("seconds", 0.0),
        extra={"state": state, "final_scores": final, "weights": os.path.basename(weights),
               "sha256": sha256(weights), "bytes": os.path.getsize(weights), "grid": os.path.basename(grid),
               **({"first_stage": {k: v for k, v in first_stage.items() if k not in ("history", "spent")}}
                  if two_stage else {})},
    )
    if first_stage.get("history"):  # the second stage's history is the record's; the first's beside it
        write_run_record(os.path.join(record_dir, "first_stage"), command=command, seed=args.seed,
                         config={"stage": "first", "epochs": recipe["epochs1"], "lr": recipe["lr1"],
                                 "lr_epochs": recipe["lr_epochs1"], "batch_size": recipe["batch_size"]},
                         wall_seconds=first_stage["seconds"], history=first_stage["history"])
    print(f"[train_preset] {args.preset}: {state}; epoch {epochs}: " +
          ", ".join(f"{k} {v:.3f}" for k, v in final.items()) + f"; record in {record_dir}", flush=True)
    print(json.dumps({"state": state, "epochs": epochs, **final}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
