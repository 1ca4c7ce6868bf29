"""Trains the small classifier behind the offline "FD (classifier features)".

`keras_vaes.metrics.classifier_feature_model(dataset)` returns the
penultimate layer (128 features) of this classifier; the Fréchet distance of
those features (Split-VAE eq. (5)) measures image quality without the
ImageNet Inception weights. It is NOT comparable with the papers' FIDs.

The classifier (`keras_vaes.metrics.classifier.build_classifier`) is trained
on the training split of MNIST or Fashion-MNIST, zero-padded to 32x32 in
[0, 1] as `keras_vaes.datasets` loads them (the Split-VAE's input), with
Adam and cross-entropy; its accuracy on the test split is printed and
written with the weights. It writes:

    <output>/classifier_<dataset>.weights.h5   weights (no optimizer state; atomic)
    <output>/classifier_<dataset>.json         test accuracy, SHA-256, command

Example:
    python examples/train_feature_classifier.py --dataset mnist \
        --data path/to/mnist.npz --epochs 3 --output weights
"""

import json
import os
import sys

import keras
import numpy as np

import keras_vaes as kv
from keras_vaes.metrics import classifier as clf
from keras_vaes.metrics import extractors, fid
from keras_vaes.utils import atomic_write

import _common  # examples/_common.py, beside the script: the flags every example shares


def build_parser():
    """The command line (`parse_args` parses it)."""
    parser = _common.parser(__doc__)
    parser.add_argument("--dataset", choices=sorted(clf.CLASSIFIERS), default="mnist",
                        help="which dataset's classifier to train")
    _common.add_data(parser, "the dataset's .npz in Keras's layout (default: keras.datasets)")
    parser.add_argument("--epochs", type=_common.positive_int, default=3, help="training epochs")
    parser.add_argument("--batch-size", type=_common.positive_int, default=128, help="images per step")
    parser.add_argument("--learning-rate", type=_common.positive_float, default=1e-3, help="Adam learning rate")
    _common.add_train_size(parser, "use the first N training images (tests only)")
    _common.add_output(parser, "runs/feature_classifier", "folder for the weights and the accuracy record")
    _common.add_seed(parser, "seed of initialisation and shuffling")
    parser.add_argument("--check-only", action="store_true",
                        help="train nothing: load the shipped classifier, print its test accuracy "
                             "and the FD of real, blurred and noise images vs real test images")
    return parser


def parse_args(argv=None, parser=None):
    """Parses the command line (exit status 2 on a bad value); `parser` defaults to `build_parser()`."""
    parser = parser or build_parser()
    return parser.parse_args(argv)


def check_shipped(dataset, x_test, y_test, seed=0):
    """Test accuracy of the shipped classifier and FDs of a sanity ladder.

    The first half of the test images is the reference; the second half
    (real), the same images blurred (Gaussian, sigma 1.5 pixels) and
    uniform noise images are compared with it. A usable measure orders
    them real < blurred < noise.
    """
    import scipy.ndimage  # only for this check

    model = clf.load_classifier(dataset)
    logits = model.predict(x_test, batch_size=500, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == np.ravel(y_test)))
    print(f"shipped {dataset} classifier: test accuracy {accuracy:.4f} ({len(x_test)} images)")
    half = len(x_test) // 2
    reference, other = x_test[:half], x_test[half: 2 * half]
    extractor = extractors.classifier_extractor(dataset)
    stats = fid.compute_statistics(reference, extractor)
    ladder = {
        "real (other half of the test set)": other,
        "blurred (Gaussian, sigma 1.5 px)": scipy.ndimage.gaussian_filter(other, sigma=(0, 1.5, 1.5, 0)),
        "uniform noise": np.random.default_rng(seed).uniform(size=other.shape).astype("float32"),
    }
    print(f"FD (classifier features; NOT comparable with Inception FIDs) vs {half} test images:")
    for name, images in ladder.items():
        print(f"  {name}: {fid.fid_score(stats, images, extractor):.3f}")


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    keras.utils.set_random_seed(args.seed)

    # --- Data: 32x32x1 in [0, 1], as the VAEs see it ------------------------
    (x_train, y_train), (x_test, y_test) = _common.load_dataset(parser, args.dataset, args.data)
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder
    if args.train_size:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    print(f"{args.dataset}: train {x_train.shape}, test {x_test.shape}")
    if args.check_only:
        check_shipped(args.dataset, x_test, y_test, args.seed)
        return

    # --- Model and training ------------------------------------------------
    model = clf.build_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.summary(print_fn=lambda line, **_: print(line))
    model.fit(x_train, y_train.astype("int32"), batch_size=args.batch_size, epochs=args.epochs,
              validation_split=0.0, callbacks=[keras.callbacks.TerminateOnNaN()])
    _, accuracy = model.evaluate(x_test, y_test.astype("int32"), batch_size=500, verbose=0)
    print(f"test accuracy ({len(x_test)} test images): {accuracy:.4f}")

    # --- Export: weights only, no optimizer state --------------------------
    weights = model.get_weights()
    if not all(np.all(np.isfinite(w)) for w in weights):
        raise SystemExit("Training diverged (non-finite weights); nothing written.")
    bare = clf.build_classifier(name=model.name)
    bare.set_weights(weights)
    path = os.path.join(args.output, clf.CLASSIFIERS[args.dataset]["file"])
    atomic_write(path, bare.save_weights)
    digest = kv.pretrained.sha256(path)
    record = {
        "dataset": args.dataset,
        "test_accuracy": round(float(accuracy), 4),
        "test_images": int(len(x_test)),
        "train_images": int(len(x_train)),
        "epochs": args.epochs,
        "sha256": digest,
        "command": "python " + " ".join(sys.argv),
    }
    with open(os.path.join(args.output, f"classifier_{args.dataset}.json"), "w") as f:
        json.dump(record, f, indent=2)
    print(f"wrote {path} (sha256 {digest})")


if __name__ == "__main__":
    main()
