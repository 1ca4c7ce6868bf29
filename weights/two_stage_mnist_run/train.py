"""Trains the `two_stage_mnist` preset: both stages, checkpointed and resumable.

Run from the repository root (the preset was trained on one CPU core):

    nohup python weights/two_stage_mnist_run/train.py --data ../shared/data/mnist.npz \
        --run runs/two_stage_mnist > train.log 2>&1 &

Every finished epoch writes the stage's weights with Adam's state to
`RUN/two_stage_mnist.{first,second}_stage.weights.h5` and one JSON line to
`RUN/log.jsonl`; rerunning the same command resumes after the last finished
epoch. At the end the preset (no optimizer state) is exported to
`--export` (default `weights/two_stage_mnist.weights.h5`).
"""

import argparse
import json
import os
import time

import keras

import keras_vaes as kv
from keras_vaes import datasets
from keras_vaes.models import two_stage

# The preset's configuration (MNIST is not in the paper): the authors' network
# with 3 scales, base 16, fc 512, latent 64, second stage 3 x 512; batch 100,
# Adam(epsilon 1e-8), step decay; stage 2 as many epochs as stage 1 or more.
CONFIG = dict(input_shape=(32, 32, 1), latent_dim=64, base_dim=16, num_scale=3, fc_dim=512,
              second_dim=512, second_depth=3, seed=0)
TRAINING = dict(epochs=5, lr=1e-3, lr_epochs=2, epochs2=20, lr2=1e-4, lr_epochs2=10,
                lr_factor=0.5, batch_size=100)


def finished_epochs(log_path, stage):
    if not os.path.exists(log_path):
        return 0
    with open(log_path) as f:
        epochs = [json.loads(line)["epoch"] for line in f if line.strip()
                  and json.loads(line)["stage"] == stage]
    return max(epochs, default=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="mnist.npz")
    parser.add_argument("--run", required=True, help="folder of checkpoints and log.jsonl")
    parser.add_argument("--export", default=os.path.join(os.path.dirname(__file__), os.pardir,
                                                         "two_stage_mnist.weights.h5"))
    for key, value in TRAINING.items():
        parser.add_argument("--" + key.replace("_", "-"), type=type(value), default=value)
    parser.add_argument("--train-size", type=int, help="first N training images (smoke tests)")
    args = parser.parse_args()
    os.makedirs(args.run, exist_ok=True)
    keras.utils.set_random_seed(CONFIG["seed"])
    (x_train, _), _ = datasets.load("mnist", args.data)
    x_train = x_train[: args.train_size]
    model = kv.build_two_stage_vae(**CONFIG)
    prefix = os.path.join(args.run, "two_stage_mnist")
    # Each stage checkpointed with its Adam state (resuming), one file per stage.
    first_path, second_path = (f"{prefix}.{stage}.weights.h5" for stage in ("first_stage", "second_stage"))
    log_path = os.path.join(args.run, "log.jsonl")
    with open(os.path.join(args.run, "config.json"), "w") as f:
        json.dump({"config": CONFIG, "training": vars(args)}, f, indent=1)

    done1 = finished_epochs(log_path, "first_stage")
    two_stage.compile_stage(model.first_stage, args.lr)
    if done1:
        model.first_stage.load_weights(first_path)
        print(f"first stage: resumed after epoch {done1}", flush=True)
    if done1 < args.epochs:
        start = time.time()
        model.fit_first_stage(
            x_train, args.epochs, args.batch_size, args.lr, args.lr_epochs, args.lr_factor,
            callbacks=[two_stage.EpochCheckpoint(first_path, log_path, "first_stage")],
            verbose=2, initial_epoch=done1, seed=done1,
        )
        print(f"first stage: {time.time() - start:.0f} s", flush=True)

    done2 = finished_epochs(log_path, "second_stage")
    two_stage.compile_stage(model.second_stage, args.lr2)
    if done2:
        model.second_stage.load_weights(second_path)
        print(f"second stage: resumed after epoch {done2}", flush=True)
    if done2 < args.epochs2:
        start = time.time()
        model.fit_second_stage(
            x_train, args.epochs2, args.batch_size, args.lr2, args.lr_epochs2, args.lr_factor,
            callbacks=[two_stage.EpochCheckpoint(second_path, log_path, "second_stage")],
            verbose=2, initial_epoch=done2, seed=1000 + done2,
        )
        print(f"second stage: {time.time() - start:.0f} s", flush=True)
    for note in model.notes:
        print(note, flush=True)
    with open(os.path.join(args.run, "notes.json"), "a") as f:
        f.write(json.dumps(model.notes) + "\n")
    digest = model.export_weights(args.export)
    print(f"exported {args.export} sha256 {digest} "
          f"({os.path.getsize(args.export) / 1e6:.1f} MB)", flush=True)


if __name__ == "__main__":
    main()
