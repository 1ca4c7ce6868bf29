"""Split-VAE Table 2: FID of each CIFAR-10 category against the whole test set.

Section V-B of the paper measures how far each category is from the
dataset: "we derive 10000 image per category by flipping images in the
training set, and compare them with the test-set"; a random mix of
training images scores far lower (5.3 against 60-107 for the categories).
`category_fid_table` computes that table with any feature model (the Fréchet
distance of Split-VAE eq. (5), `keras_vaes.metrics.fid`) as a
`protocol.ResultTable` (write it with `protocol.write_results(table,
directory, name="table2")`); it works for any labelled dataset (e.g. MNIST
digits with the offline classifier features, whose values are NOT
comparable with the paper's). `dataset_category_table` is that table for a
named dataset: CIFAR-10's class names and the paper's values, else the
labels' digits.
"""

import numpy as np

from keras_vaes.evaluation import protocol

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
                       seed=0, batch_size=100, k=3, paper=None, feature_description=None,
                       title="", notes=(), verbose=0):
    """Each category (and a random mix) against the reference set: `protocol.evaluate`.

    Rows: the categories in label order, then `"mix"` (`per_category`
    training images drawn uniformly without replacement, no flips); one
    column, "images"; each row's extra column "images" counts the images
    used.

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
        batch_size: int. Defaults to 100.
        k: int or None. Neighbours of precision / recall (None skips them).
        paper: {name: value} of the paper's FIDs (e.g. `PAPER_TABLE2`),
            shown beside the obtained ones.
        feature_description: str or None. Which extractor produced the FIDs.
        title: str. The table's heading.
        notes: sequence of str. Notes of the table.
        verbose: int. 1 shows one progress bar over the rows.

    Returns:
        A `protocol.ResultTable`.
    """

    def row(name, images):
        extras = {}

        def image_sets(model):
            chosen = images()
            extras["images"] = len(chosen)
            yield "images", chosen

        return protocol.Row(name, ("images",), image_sets, extras=lambda model: extras)

    def mix():
        rng = np.random.default_rng(seed)
        picked = rng.choice(len(train_images), min(per_category, len(train_images)), replace=False)
        return np.asarray(train_images)[picked]

    rows = [row(name, lambda label=label: category_images(train_images, train_labels, label, per_category, flip))
            for label, name in enumerate(class_names)] + [row("mix", mix)]
    return protocol.evaluate(
        None, reference_images, rows, feature_model, feature_description=feature_description, k=k,
        batch_size=batch_size, keep_images=0, title=title, notes=notes, verbose=verbose,
        paper={name: {"images": value} for name, value in (paper or {}).items()},
    )


def dataset_category_table(dataset, train_images, train_labels, reference_images, feature_model, *,
                           per_category=10000, seed=0, batch_size=100, feature_description=None, verbose=0):
    """`category_fid_table` of a named dataset: Table 2 with the paper's values for "cifar10".

    CIFAR-10's rows are its class names with `PAPER_TABLE2` beside them;
    any other labelled dataset's rows are its labels 0..max (e.g. MNIST's
    digits). The title counts the reference (test) images.

    Args:
        dataset: str. The dataset's name ("cifar10" for the paper's table).
        train_images, train_labels, reference_images, feature_model,
            per_category, seed, batch_size, feature_description, verbose:
            as `category_fid_table`.

    Raises:
        ValueError: `train_labels` is None (e.g. CelebA has no categories).
    """
    if train_labels is None:
        raise ValueError(f"Table 2 needs the training labels; {dataset} has none. Received: train_labels=None")
    cifar10 = dataset == "cifar10"
    names = CIFAR10_CLASSES if cifar10 else tuple(str(c) for c in range(int(np.max(train_labels)) + 1))
    return category_fid_table(
        train_images, train_labels, reference_images, feature_model, class_names=names,
        per_category=per_category, seed=seed, batch_size=batch_size, verbose=verbose,
        paper=PAPER_TABLE2 if cifar10 else None, feature_description=feature_description,
        title=f"Table 2 layout: each {dataset} category (training images + flips) "
              f"vs {len(reference_images)} test images",
    )
