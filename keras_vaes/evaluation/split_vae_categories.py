"""Split-VAE Table 2: FID of each CIFAR-10 category against the whole test set.

Section V-B of the paper measures how far each category is from the
dataset: "we derive 10000 image per category by flipping images in the
training set, and compare them with the test-set"; a random mix of
training images scores far lower (5.3 against 60-107 for the categories).
`category_fid_table` computes that table with any feature model (the Fréchet
distance of Split-VAE eq. (5), `keras_vaes.metrics.fid`); it works for any
labelled dataset (e.g. MNIST digits with the offline classifier features,
whose values are NOT comparable with the paper's).
"""

import csv
import os

import numpy as np

from keras_vaes.metrics import fid
from keras_vaes.utils import print_msg

CIFAR10_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Table 2 of the paper (Keras InceptionV3 features).
PAPER_TABLE2 = {
    "plane": 80.7, "car": 98.3, "bird": 65.0, "cat": 60.8, "deer": 66.3, "dog": 74.3,
    "frog": 100.2, "horse": 84.3, "ship": 97.7, "truck": 107.5, "mix": 5.3,
}


def category_images(images, labels, label, count=10000, flip=True):
    """The images of one category, completed by their horizontal flips.

    The category's training images first, then their left-right flips (as
    the paper derives 10,000 CIFAR-10 images per category from 5,000), cut
    to `count` images.

    Args:
        images: array (N, H, W, C).
        labels: array (N,) of integer labels.
        label: int. The category.
        count: int. Images wanted. Defaults to 10000.
        flip: bool. Append the flipped images. Defaults to True.

    Returns:
        Array (min(count, available), H, W, C).
    """
    labels = np.ravel(labels)
    if len(labels) != len(images):
        raise ValueError(
            "Expected one label per image. Received: "
            f"images.shape={np.shape(images)}, labels.shape={labels.shape}"
        )
    selected = np.asarray(images)[labels == label]
    if len(selected) == 0:
        raise ValueError(f"No image has label {label}. Received labels: {sorted(set(labels.tolist()))}")
    if flip:
        selected = np.concatenate([selected, selected[:, :, ::-1]])
    return selected[:count]


def category_fid_table(train_images, train_labels, reference_images, feature_model,
                       class_names=CIFAR10_CLASSES, per_category=10000, flip=True,
                       seed=0, batch_size=100, verbose=0):
    """FID of each category (and of a random mix) against the reference set.

    Args:
        train_images: array (N, H, W, C) in [0, 1], the training split.
        train_labels: array (N,) of labels 0..len(class_names)-1.
        reference_images: array in [0, 1], the test split (the paper: the
            10,000 CIFAR-10 test images).
        feature_model: what `keras_vaes.metrics.fid_score` accepts.
        class_names: names of the labels, in label order. Defaults to
            CIFAR-10's, as the paper writes them.
        per_category: int. Images per category (and in the mix). Defaults
            to 10000.
        flip: bool. Complete each category with flipped images. Defaults
            to True.
        seed: int. Seed of the random mix.

    Returns:
        dict name -> FID, the categories in label order then `"mix"`
        (`per_category` training images drawn uniformly without
        replacement, no flips), and `"_counts"` name -> images used.
    """
    reference_stats = fid.compute_statistics(reference_images, feature_model,
                                             batch_size=batch_size, verbose=verbose)
    scores, counts = {}, {}
    for label, name in enumerate(class_names):
        images = category_images(train_images, train_labels, label, per_category, flip)
        counts[name] = len(images)
        scores[name] = fid.fid_score(reference_stats, images, feature_model,
                                     batch_size=batch_size, verbose=verbose)
        if verbose:
            print_msg(f"{name}: {scores[name]:.2f} ({len(images)} images)")
    rng = np.random.default_rng(seed)
    mix = np.asarray(train_images)[rng.choice(len(train_images), min(per_category, len(train_images)),
                                               replace=False)]
    counts["mix"] = len(mix)
    scores["mix"] = fid.fid_score(reference_stats, mix, feature_model,
                                  batch_size=batch_size, verbose=verbose)
    scores["_counts"] = counts
    return scores


def write_category_table(scores, output_dir, paper=None, feature_description="", header=""):
    """Writes table2.md and table2.csv (the paper's values beside, if given).

    Returns:
        The markdown text.
    """
    os.makedirs(output_dir, exist_ok=True)
    paper = paper or {}
    counts = scores.get("_counts", {})
    names = [k for k in scores if k != "_counts"]
    md = [header, "", f"Feature model: {feature_description}", "",
          "| category | images | obtained | paper |", "|---|---|---|---|"]
    rows = [["category", "images", "fid", "paper"]]
    for name in names:
        reported = paper.get(name)
        md.append(f"| {name} | {counts.get(name, '')} | {scores[name]:.2f} | "
                  f"{'' if reported is None else reported} |")
        rows.append([name, counts.get(name, ""), f"{scores[name]:.4f}", "" if reported is None else reported])
    with open(os.path.join(output_dir, "table2.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(output_dir, "table2.csv"), "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return "\n".join(md)
