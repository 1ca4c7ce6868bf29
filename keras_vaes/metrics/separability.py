"""Linear separability of a latent space (Karras et al. 2019, section 4.2).

The disentanglement measure of "Empirical observations pertaining to
learned priors for deep latent variable models" (section 5.1, Table 1),
which follows Karras, Laine, Aila, "A style-based generator architecture
for generative adversarial networks" (StyleGAN) "exactly":

1. label N latents with an attribute classifier (probabilities, or 0/1
   labels);
2. per attribute, keep the `keep` fraction (StyleGAN: 100k of 200k) of
   samples on which the classifier is most confident (`max(p, 1 - p)`,
   ties kept in their original order, as Python's stable `sorted` in the
   StyleGAN code);
3. fit scikit-learn `LinearSVC()` on the kept latents to the classifier's
   labels and predict the same samples;
4. conditional entropy H(Y|X) in bits of the classifier label Y given the
   SVM label X, from their 2x2 joint table;
5. score = 2^(sum over attributes of H(Y|X)) (StyleGAN writes exp of the
   sum in nats: the same number). 1 means every attribute is perfectly
   linearly separable; lower is better.
"""

import warnings

import numpy as np


def conditional_entropy_bits(x_labels, y_labels):
    """H(Y|X) in bits of two binary label vectors, from their 2x2 table.

    `H(Y|X) = -sum_{x,y} p(x, y) log2(p(x, y) / p(x))`, with `0 log 0 = 0`
    (StyleGAN computes the same quantity as H(Y) - I(X; Y)).

    Args:
        x_labels: array `(n,)` of 0/1. The SVM's predictions (X).
        y_labels: array `(n,)` of 0/1. The classifier's labels (Y).

    Returns:
        A float in [0, 1].
    """
    x_labels = np.asarray(x_labels).astype(int)
    y_labels = np.asarray(y_labels).astype(int)
    joint = np.zeros((2, 2))
    np.add.at(joint, (x_labels, y_labels), 1.0)
    joint /= joint.sum()
    p_x = joint.sum(axis=1, keepdims=True)
    nonzero = joint > 0
    ratio = np.divide(joint, p_x, out=np.ones_like(joint), where=nonzero)
    return float(max(0.0, -np.sum(joint[nonzero] * np.log2(ratio[nonzero]))))


def _check_inputs(latents, attributes, keep):
    latents = np.asarray(latents, dtype=np.float64)
    attributes = np.asarray(attributes, dtype=np.float64)
    if latents.ndim != 2 or latents.shape[0] < 2:
        raise ValueError(
            "`latents` must have shape (N, latent_dim) with N >= 2. "
            f"Received: latents.shape={latents.shape}"
        )
    if attributes.ndim != 2 or attributes.shape[0] != latents.shape[0]:
        raise ValueError(
            "`attributes` must have shape (N, num_attributes) with the same N "
            f"as `latents` ({latents.shape[0]}); for a single attribute use "
            f"attributes[:, None]. Received: attributes.shape={attributes.shape}"
        )
    if attributes.shape[1] < 1:
        raise ValueError(
            f"`attributes` has no attribute columns. Received: attributes.shape={attributes.shape}"
        )
    if not (np.all(np.isfinite(latents)) and np.all(np.isfinite(attributes))):
        raise ValueError("`latents` and `attributes` must be finite.")
    if np.min(attributes) < 0 or np.max(attributes) > 1:
        raise ValueError(
            "`attributes` must hold probabilities or 0/1 labels, in [0, 1]. "
            f"Received: values in [{np.min(attributes):g}, {np.max(attributes):g}]"
        )
    if isinstance(keep, bool) or not 0 < keep <= 1:
        raise ValueError(f"`keep` must be a fraction in (0, 1]. Received: keep={keep!r}")
    num_keep = int(round(keep * latents.shape[0]))
    if num_keep < 2:
        raise ValueError(
            f"`keep` * N must leave at least 2 samples. Received: keep={keep}, "
            f"N={latents.shape[0]}"
        )
    return latents, attributes, num_keep


def _most_confident(probability, num_keep):
    """Indices of the `num_keep` most confident samples and their 0/1 labels."""
    confidence = np.maximum(probability, 1.0 - probability)
    kept = np.argsort(-confidence, kind="stable")[:num_keep]
    # StyleGAN: argmax of softmax([logit, -logit]) -> class 0 = present.
    return kept, (probability[kept] < 0.5).astype(int)


def single_class_attributes(attributes, keep=0.5):
    """How many attributes keep a single label after the confidence pruning.

    Such an attribute cannot be fitted and counts as perfectly separable
    (H(Y|X) = 0) in `linear_separability`, as in the StyleGAN code: a
    score near 1 with many of them says the samples lack variety (e.g. a
    generator whose samples the classifier puts in few classes), not that
    the latent space is disentangled.

    Args:
        attributes: array `(N, num_attributes)` as in `linear_separability`.
        keep: float. Defaults to 0.5.

    Returns:
        An int in [0, num_attributes].
    """
    attributes = np.asarray(attributes, dtype=np.float64)
    _, attributes, num_keep = _check_inputs(np.zeros((len(attributes), 1)), attributes, keep)
    return int(sum(
        np.unique(_most_confident(attributes[:, i], num_keep)[1]).size < 2
        for i in range(attributes.shape[1])
    ))


def linear_separability(latents, attributes, keep=0.5, return_entropies=False):
    """Linear separability score of Karras et al. (StyleGAN), lower is better.

    See the module docstring for the procedure. A kept set with a single
    class cannot be fitted; as in the StyleGAN code, its SVM is then taken
    to predict perfectly (H(Y|X) = 0 for that attribute).

    Args:
        latents: array `(N, latent_dim)`. The codes (z_0, z_T, a VAE's z).
        attributes: array `(N, num_attributes)` of attribute probabilities
            or 0/1 labels (probability that the attribute is present).
        keep: float in (0, 1]. Fraction of most confident samples kept per
            attribute. Defaults to 0.5 (StyleGAN: 100k of 200k).
        return_entropies: bool. Also return the per-attribute H(Y|X) in
            bits. Defaults to False.

    Returns:
        The score `2 ** sum(H(Y|X))` (a float >= 1), or
        `(score, entropies)` with `entropies` of shape `(num_attributes,)`.

    Example:

    >>> z = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> linear_separability(z, np.array([[0.0], [0.0], [1.0], [1.0]]), keep=1.0)
    1.0
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    latents, attributes, num_keep = _check_inputs(latents, attributes, keep)
    entropies = np.zeros(attributes.shape[1])
    for index in range(attributes.shape[1]):
        kept, targets = _most_confident(attributes[:, index], num_keep)
        inputs = latents[kept]
        if np.unique(targets).size < 2:
            predictions = targets
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                svm = LinearSVC(random_state=0).fit(inputs, targets)
            predictions = svm.predict(inputs)
        entropies[index] = conditional_entropy_bits(predictions, targets)
    score = float(2.0 ** np.sum(entropies))
    return (score, entropies) if return_entropies else score


def one_vs_rest_attributes(labels=None, probabilities=None, num_classes=10):
    """Class labels or softmax outputs as `(N, num_classes)` binary attributes.

    The offline analogue of CelebA's 40 attributes on MNIST: "is it digit
    k", one column per class, from a classifier's softmax (probabilities)
    or from the true labels (one-hot).

    Args:
        labels: int array `(N,)` or None.
        probabilities: array `(N, num_classes)` (rows summing to 1) or None.
        num_classes: int. Defaults to 10.

    Returns:
        Float array `(N, num_classes)` in [0, 1].
    """
    if (labels is None) == (probabilities is None):
        raise ValueError("Pass exactly one of `labels` or `probabilities`.")
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.ndim != 2:
            raise ValueError(
                "`probabilities` must have shape (N, num_classes). "
                f"Received: probabilities.shape={probabilities.shape}"
            )
        return probabilities
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= num_classes)):
        raise ValueError(
            f"`labels` must be a vector of class indices in [0, {num_classes}). "
            f"Received: labels.shape={labels.shape}"
        )
    return np.eye(num_classes)[labels.astype(int)]
