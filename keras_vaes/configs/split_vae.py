"""Split-VAE (Asperti, Bugo, Filippini, IEEE Access 2022): the paper's configurations and training recipe.

`CONFIGS` holds the paper's configuration of each dataset:

- MNIST (section V-A, Table 1): 32x32x1 (zero-padded), latent 32, beta 8,
  300 epochs, GMM with 20 and 100 components;
- CIFAR-10 (V-B, Tables 2-3): 32x32x3, latent 200, beta 3, 110 epochs,
  GMM 100;
- CelebA (V-C, Table 4): 64x64x3, latent 150, beta 3, 160 epochs, GMM 100;

always the authors' ResNet (base 64, 4 scales, embedding 512, the
`build_svae` defaults, `NETWORK`), batch 100; `build_model` builds it. A
run's settings (`run_settings`), data (`load_data`) and model, a preset or
the paper's network with saved weights (`load_model`). The training recipe:
Adam at the authors' learning rate (`compile_for_training`, `train`,
`train_run` with the FIDs of Figure 11), resuming a checkpoint with its
optimizer state (`load_for_resuming`, `load_run_weights`), and the ablation
of Figures 14-15 (`ablation`); the paper's table of the dataset
(`evaluate`) and Table 2 of its categories (`category_table`). `examples/split_vae.py` runs them from the command line.

Example:

>>> import keras_vaes as kv
>>> model = kv.build_svae((8, 8, 1), 4, base_dim=8, emb_dim=16, num_scale=1)
>>> compile_for_training(model, DEFAULT_LEARNING_RATE)
>>> int(model.optimizer.iterations)
0
>>> model_kwargs("mnist")
{'input_shape': (32, 32, 1), 'latent_dim': 32, 'beta': 8.0}
"""

import os
import warnings

import keras
import numpy as np
from keras import ops

from keras_vaes import datasets, plotting, pretrained
from keras_vaes.callbacks import GMMFIDHistory, TrainingDivergedError
from keras_vaes.evaluation import split_vae as evaluation
from keras_vaes.evaluation import split_vae_categories
from keras_vaes.evaluation.protocol import write_results
from keras_vaes.models.svae import build_svae
from keras_vaes.run_record import read_history
from keras_vaes.utils import print_msg

# Adam's learning rate of the examples: the authors' script's 1e-4 (the
# paper writes 1e-3, which diverged in benchmarks/divergence.py).
DEFAULT_LEARNING_RATE = 1e-4
BATCH_SIZE = 100
# The authors' ResNet of every configuration (`build_svae`'s defaults).
NETWORK = dict(base_dim=64, emb_dim=512, num_scale=4, block_per_scale=1, depth_per_block=2)
# What each `NETWORK` setting is.
NETWORK_DESCRIPTIONS = {"base_dim": "channels at full resolution", "emb_dim": "width of the dense embedding",
                        "num_scale": "downsamplings of the encoder", "block_per_scale": "residual blocks per scale",
                        "depth_per_block": "convolutions per block"}

CONFIGS = {
    "mnist": dict(
        input_shape=(32, 32, 1), latent_dim=32, beta=8.0, epochs=300, gmm_components=(20, 100),
        paper=evaluation.PAPER_MNIST, table="Table 1",
    ),
    "cifar10": dict(
        input_shape=(32, 32, 3), latent_dim=200, beta=3.0, epochs=110, gmm_components=(100,),
        paper=evaluation.PAPER_CIFAR10, table="Table 3",
    ),
    "celeba": dict(
        input_shape=(64, 64, 3), latent_dim=150, beta=3.0, epochs=160, gmm_components=(100,),
        paper=evaluation.PAPER_CELEBA, table="Table 4",
    ),
}


def model_kwargs(dataset):
    """The `build_svae` arguments of the paper's network for `dataset` (the rest: its defaults)."""
    if dataset not in CONFIGS:
        raise ValueError(f"Expected a dataset of {sorted(CONFIGS)}. Received: dataset={dataset!r}")
    config = CONFIGS[dataset]
    return {key: config[key] for key in ("input_shape", "latent_dim", "beta")}


def run_settings(dataset, *, latent_dim=None, beta=None, gmm_components=None, epochs=None, preset=None,
                 loading=False):
    """A run's settings on `dataset`: the given values, else the paper's (`CONFIGS`).

    A preset's network is fixed: its latent size and beta replace the
    given ones.

    Args:
        dataset: str. A key of `CONFIGS`.
        latent_dim, beta: None for the paper's values.
        gmm_components: ints or None (the paper's: MNIST 20 and 100,
            CIFAR-10 and CelebA 100).
        epochs: int or None. None: 0 when a preset or a weights file is
            loaded (`preset`, `loading`), else the paper's.
        preset: str or None. A `build_svae` preset of `pretrained.PRESETS`.
        loading: bool. Weights are loaded from a file.

    Returns:
        dict: `latent_dim`, `beta`, `gmm_components` (a list), `epochs`.

    Raises:
        ValueError: an unknown dataset, a preset of another model, or a
            preset taking images of another shape than `dataset`'s.

    Example:

    >>> run_settings("cifar10", beta=1.0)
    {'latent_dim': 200, 'beta': 1.0, 'gmm_components': [100], 'epochs': 110}
    """
    kwargs = model_kwargs(dataset)
    if preset is not None:
        entry = pretrained.PRESETS.get(preset, {})
        if entry.get("builder") != "build_svae":
            raise ValueError(f"Expected a build_svae preset of keras_vaes.pretrained.PRESETS. Received: "
                             f"preset={preset!r}")
        config = entry["config"]
        if tuple(config["input_shape"]) != kwargs["input_shape"]:
            raise ValueError(f"Preset {preset!r} takes images of shape {tuple(config['input_shape'])}, not "
                             f"{dataset}'s {kwargs['input_shape']}. Received: preset={preset!r}, dataset={dataset!r}")
        latent_dim, beta = config["latent_dim"], config["beta"]
    if epochs is None:
        epochs = 0 if (loading or preset is not None) else CONFIGS[dataset]["epochs"]
    return {"latent_dim": latent_dim or kwargs["latent_dim"], "beta": kwargs["beta"] if beta is None else beta,
            "gmm_components": list(gmm_components or CONFIGS[dataset]["gmm_components"]), "epochs": epochs}


def load_data(dataset, path=None, *, cache_dir=None, train_size=None, test_size=None):
    """`(x_train, y_train), (x_test, y_test)` of `dataset` in [0, 1], cut to the first images asked for.

    Args:
        dataset: str. A key of `CONFIGS` (`datasets.load`).
        path: str or None. The dataset's file or folder (None: keras.datasets;
            CelebA needs its img_align_celeba folder).
        cache_dir: str or None. CelebA: the folder caching the decoded images.
        train_size, test_size: int or None. Keep the first N images (None:
            all); labels are cut alike.

    Raises:
        ValueError, OSError: what the loader raises on data it cannot use.
    """
    options = {"cache_dir": cache_dir} if dataset == "celeba" else {}
    train, test = datasets.load(dataset, path, **options)
    return tuple(tuple(a if a is None or not size else a[:size] for a in split)
                 for split, size in ((train, train_size), (test, test_size)))


def build_model(dataset, *, latent_dim=None, beta=None, split=True, seed=None, **network):
    """The paper's Split-VAE of `dataset` (`split=False`: the ablation's vanilla VAE, section V-D).

    Args:
        dataset: str. A key of `CONFIGS`.
        latent_dim, beta: the paper's values of `dataset` when None.
        split: bool. False keeps the network but the decoder's last layer
            (Figures 14-15).
        seed: int or None. Seed of the initialisation and the sampling.
        **network: `NETWORK` settings replacing the authors' (e.g.
            `base_dim=8` for a test).
    """
    kwargs = model_kwargs(dataset)
    unknown = sorted(set(network) - set(NETWORK))
    if unknown:
        raise ValueError(f"Expected network settings of {sorted(NETWORK)}. Received: {unknown}")
    return build_svae(
        kwargs["input_shape"], latent_dim or kwargs["latent_dim"],
        beta=kwargs["beta"] if beta is None else beta, split=split, seed=seed, **{**NETWORK, **network},
    )


def compile_for_training(model, learning_rate):
    """Compiles with Adam and builds its state, so `load_weights` of a checkpoint restores it.

    Args:
        model: a `keras.Model` of the package.
        learning_rate: float. Adam's learning rate.
    """
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model.optimizer.build(model.trainable_variables)


def load_for_resuming(model, path, learning_rate):
    """Compiles `model` and loads `path`: weights, gamma and, if the file has it, Adam's state.

    A checkpoint written during training (`save_weights` of a compiled
    model) carries Adam's moments and step count, so training goes on as if
    it had not stopped; a preset or `export_weights` file has none, and Adam
    starts afresh. The learning rate is the run's, not the file's.

    Args:
        model: a `SplitVAE` (anything whose `load_weights` returns whether
            the file stored gamma).
        path: str. The `.weights.h5` file.
        learning_rate: float. Adam's learning rate from now on.

    Returns:
        `(has_gamma, restored)`: whether the file stored gamma, and whether
        Adam's state came from it.
    """
    compile_for_training(model, learning_rate)
    with warnings.catch_warnings():
        # Keras warns "Skipping variable loading for optimizer" for files
        # without optimizer state: the return value says it instead.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        has_gamma = model.load_weights(path)
    model.optimizer.learning_rate.assign(learning_rate)  # the file's would win
    return has_gamma, int(ops.convert_to_numpy(model.optimizer.iterations)) > 0


def load_run_weights(model, path, gamma_images, *, resume=False, learning_rate=DEFAULT_LEARNING_RATE):
    """Loads `path` into `model` to evaluate it or, with `resume=True`, to train it further.

    Resuming compiles the model and restores Adam's state where the file
    has it (`load_for_resuming`). A file without gamma (written by another
    implementation) restarts gamma from the MSE of `gamma_images`, as the
    authors' scripts do on resuming (`estimate_gamma`).

    Args:
        model: a `SplitVAE`.
        path: str. The `.weights.h5` file.
        gamma_images: training images (the examples: the first 10,000)
            whose reconstruction MSE restarts gamma when the file has none.
        resume: bool. Compile for training and restore Adam's state.
        learning_rate: float. Adam's learning rate when resuming.

    Returns:
        dict: `"adam_step"`, Adam's restored step count (None when not
        resuming, 0 when the file had no optimizer state), and
        `"gamma_mse"`, the MSE gamma restarted from (None when the file
        stored gamma).
    """
    if resume:
        has_gamma, _ = load_for_resuming(model, path, learning_rate)
        step = int(ops.convert_to_numpy(model.optimizer.iterations))
    else:
        has_gamma, step = model.load_weights(path), None
    return {"adam_step": step, "gamma_mse": None if has_gamma else model.estimate_gamma(gamma_images)}


def load_model(dataset, *, preset=None, weights=None, gamma_images=None, resume=False,
               learning_rate=DEFAULT_LEARNING_RATE, verbose=0, **build_kwargs):
    """A run's model: a shipped preset or the paper's network (`build_model`), then `weights` if given.

    Args:
        dataset: str. A key of `CONFIGS`: the network built when no preset.
        preset: str or None. A preset of `pretrained.PRESETS`, loaded
            instead of building (`pretrained.load_pretrained`).
        weights: str or None. A `.weights.h5` loaded into the model
            (`load_run_weights`).
        gamma_images: images whose reconstruction MSE restarts gamma when
            `weights` stores none.
        resume: bool. Compile and restore Adam's state from `weights`.
        learning_rate: float. Adam's learning rate when resuming.
        verbose: int. 1 reports the preset, the trainable parameters and
            what `weights` restored.
        **build_kwargs: `build_model`'s (latent_dim, beta, split, seed, the
            network), ignored with a preset.

    Returns:
        The model (a `SplitVAE`).
    """
    if preset is not None:
        model = pretrained.load_pretrained(preset)
        if verbose:
            print_msg(f"preset {preset}: {pretrained.PRESETS[preset]['description']}")
    else:
        model = build_model(dataset, **build_kwargs)
    if verbose:
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        print_msg(f"{'vanilla VAE' if not model.split else 'Split-VAE'}: {trainable:,} trainable parameters")
    if weights:
        loaded = load_run_weights(model, weights, gamma_images, resume=resume, learning_rate=learning_rate)
        if verbose and loaded["adam_step"] is not None:
            print_msg(f"{weights}: " + (f"Adam's state restored (step {loaded['adam_step']})" if loaded["adam_step"]
                                        else "no optimizer state (a preset or export_weights file): Adam starts afresh"))
        if verbose and loaded["gamma_mse"] is not None:
            print_msg(f"{weights} stores no gamma; restarted it from the MSE {loaded['gamma_mse']:.5f}")
        if verbose:
            print_msg(f"loaded {weights}; gamma = {model.gamma:.5f}")
    return model


def train(model, x_train, x_val, weights_path, log_path, *, epochs, batch_size=BATCH_SIZE,
          learning_rate=DEFAULT_LEARNING_RATE, initial_epoch=0, callbacks=(), curves_path=None):
    """Trains as the paper's runs: Adam, a checkpoint every epoch, a CSV log; returns the history dict.

    A model compiled beforehand (`load_for_resuming`) keeps its optimizer.
    Training stops at a non-finite loss; no NaN weights are written (the
    checkpoint keeps the last finite epoch).

    Args:
        model: a `SplitVAE`.
        x_train: training images.
        x_val: validation images (the examples: the first 1,000 test images).
        weights_path: str. The `.weights.h5` checkpoint.
        log_path: str. The `CSVLogger` file.
        epochs: int. Epochs after `initial_epoch`.
        batch_size, learning_rate: the run's.
        initial_epoch: int. Epochs the weights were already trained.
        callbacks: more callbacks, run first (e.g. `GMMFIDHistory`).
        curves_path: str or None. Where to plot loss, mse, kl and gamma
            per epoch (numbered from `initial_epoch + 1`); None: no figure.

    Raises:
        TrainingDivergedError: the loss became NaN or infinite; the message
            names the checkpoint and what to change.
    """
    if not model.compiled:
        compile_for_training(model, learning_rate)
    callbacks = list(callbacks) + [
        keras.callbacks.ModelCheckpoint(weights_path, save_weights_only=True),
        keras.callbacks.CSVLogger(log_path),
        keras.callbacks.TerminateOnNaN(),
    ]
    try:
        history = model.fit(x_train, batch_size=batch_size, epochs=initial_epoch + epochs,
                            initial_epoch=initial_epoch, validation_data=(x_val,), callbacks=callbacks)
    except ValueError as error:  # TrainingDivergedError, or a checkpoint refusing NaN weights
        if not isinstance(error, TrainingDivergedError) and "NaN or inf" not in str(error):
            raise
        raise TrainingDivergedError(
            f"Training diverged (NaN/inf loss); {weights_path} holds the last finite checkpoint, if "
            f"any. Lower the learning rate (now {learning_rate:g}) or change the seed."
        ) from error
    model.save_weights(weights_path)
    if curves_path is not None:
        plotting.save_curves(history.history, curves_path, keys=["loss", "mse", "kl", "gamma"],
                             first_epoch=initial_epoch + 1)
    return history.history


def weights_path(output, dataset):
    """The run's checkpoint, `<output>/svae_<dataset>.weights.h5`."""
    return os.path.join(output, f"svae_{dataset}.weights.h5")


def train_run(model, x_train, x_val, output, dataset, *, epochs, batch_size=BATCH_SIZE,
              learning_rate=DEFAULT_LEARNING_RATE, initial_epoch=0, fid_every=0, reference=None,
              feature_model=None, fid_components=100, fid_samples=10000, feature_description="", label=None,
              seed=0, verbose=0):
    """Trains a run in `output` (`train`) and, every `fid_every` epochs, the FIDs of Figure 11.

    Writes svae_<dataset>.weights.h5 (`weights_path`, a checkpoint every
    epoch), history.csv, curves.png and, with `fid_every`, the FIDs of
    x_hat, x1 and x2 after GMM resampling along training
    (`GMMFIDHistory`, in the history; fid_evolution.png / .csv, epochs
    numbered from `initial_epoch + 1`).

    Args:
        model: a `SplitVAE`.
        x_train, x_val: training and validation images.
        output: str. An existing folder.
        dataset: str. Its name, in the files' names and the figure's title.
        epochs, batch_size, learning_rate, initial_epoch: `train`'s.
        fid_every: int. 0: no FIDs along training.
        reference, feature_model: the FIDs' reference images and extractor
            (needed with `fid_every`).
        fid_components, fid_samples: GMM components and images per FID.
        feature_description: str. The extractor's, on the figure.
        label: str or None. The curves' label ("split" or "vanilla";
            None: from `model.split`).
        seed: int. Seed of the FIDs' sampling.
        verbose: int. 1 reports the weights written.

    Returns:
        The history dict.

    Raises:
        TrainingDivergedError: the loss became NaN or infinite (`train`).
        ValueError: `fid_every` without `reference` or `feature_model`.
    """
    fids = []
    if fid_every:
        if reference is None or feature_model is None:
            raise ValueError(f"FIDs along training need reference images and a feature model. Received: "
                             f"fid_every={fid_every}, reference={type(reference).__name__}, "
                             f"feature_model={type(feature_model).__name__}")
        fids = [GMMFIDHistory(reference, feature_model, every=fid_every, components=fid_components,
                              num_samples=fid_samples, seed=seed, batch_size=batch_size)]
    weights = weights_path(output, dataset)
    history = train(model, x_train, x_val, weights, os.path.join(output, "history.csv"), epochs=epochs,
                    batch_size=batch_size, learning_rate=learning_rate, initial_epoch=initial_epoch,
                    callbacks=fids, curves_path=os.path.join(output, "curves.png"))
    if verbose:
        print_msg(f"wrote {weights}")
    if fid_every:
        label = label or ("split" if model.split else "vanilla")
        evaluation.write_training_fids({label: [history]}, fid_components, output, feature_description, dataset,
                                       first_epoch=initial_epoch + 1)
    return history


def evaluate(model, images, dataset, output, *, feature_model="inception", gmm_components=None,
             gmm_fit_images=None, num_samples=10000, seed=0, mix="authors", weights="", verbose=1):
    """Table 1 / 3 / 4 of `dataset`, the paper's numbers beside, written as <output>/results.md and .csv.

    `evaluation.split_vae.evaluate_paper_table` with the paper's values
    and table of `CONFIGS[dataset]`, written by `protocol.write_results`
    (with the rows' images and the variance law).

    Args:
        model: a `SplitVAE`.
        images: the test images (the FID reference).
        dataset: str. A key of `CONFIGS`.
        output: str. An existing folder.
        feature_model, gmm_fit_images, num_samples, seed, mix, weights,
            verbose: `evaluate_paper_table`'s.
        gmm_components: ints or None (the paper's).

    Returns:
        str. The path of results.md.
    """
    config = CONFIGS[dataset]
    table = evaluation.evaluate_paper_table(
        model, images, dataset, feature_model, gmm_components=list(gmm_components or config["gmm_components"]),
        gmm_fit_images=gmm_fit_images, num_samples=num_samples, seed=seed, mix=mix,
        paper_by_beta=config["paper"], paper_table=config["table"], weights=weights, verbose=verbose)
    return write_results(table, output)[0]


def category_table(dataset, x_train, y_train, reference, feature_model, output, *, per_category=10000, seed=0,
                   batch_size=BATCH_SIZE, feature_description=None):
    """Table 2: the FID of each category of `dataset` vs the test set, written as <output>/table2.md and .csv.

    A property of the data, no model: each category's training images
    and their flips, and a random mix, against `reference`
    (`split_vae_categories.dataset_category_table`), the paper's values
    beside.

    Args:
        dataset: str. A labelled dataset ("cifar10", "mnist").
        x_train, y_train: training images in [0, 1] and their labels.
        reference: the test images the FIDs compare with.
        feature_model: the FID extractor.
        output: str. An existing folder.
        per_category, seed, batch_size, feature_description:
            `dataset_category_table`'s.

    Returns:
        str. The path of table2.md.

    Raises:
        ValueError: `y_train` is None (a dataset without labels).
    """
    if y_train is None:
        raise ValueError(f"Table 2 needs the training labels; {dataset} has none. Received: y_train=None")
    table = split_vae_categories.dataset_category_table(
        dataset, x_train, y_train, reference, feature_model, per_category=per_category, seed=seed,
        batch_size=batch_size, feature_description=feature_description)
    return write_results(table, output, figures=False, name="table2")[0]


def ablation(build_model, x_train, x_val, reference, feature_model, output, seeds, *, epochs,
             fid_every=1, components=100, num_samples=10000, batch_size=BATCH_SIZE,
             learning_rate=DEFAULT_LEARNING_RATE, weights_name="split_vae.weights.h5"):
    """Figures 14 / 15: the split and the vanilla VAE over seeds, FIDs after GMM resampling along training.

    Each run trains in `<output>/ablation/<split|vanilla>_seed<s>/` (weights
    and history.csv); a run whose history already holds `epochs` epochs is
    read back instead of trained again.

    Args:
        build_model: callable `(seed, split) -> model`.
        x_train, x_val: training and validation images.
        reference: the images the FIDs compare with.
        feature_model: the FID extractor.
        output: str. The run's folder.
        seeds: ints.
        epochs, fid_every, components, num_samples, batch_size,
            learning_rate: the runs' settings (`GMMFIDHistory`'s for the
            FIDs).
        weights_name: str. The checkpoint's file name in each run's folder.

    Returns:
        `{"split": [history, ...], "vanilla": [...]}`, one history dict per
        seed (`evaluation.split_vae.fid_curves` reads them).
    """
    histories = {"split": [], "vanilla": []}
    for seed in seeds:
        for label in histories:
            folder = os.path.join(output, "ablation", f"{label}_seed{seed}")
            os.makedirs(folder, exist_ok=True)
            done = os.path.join(folder, "history.csv")
            if os.path.exists(done) and len(read_history(done).get("loss", [])) == epochs:
                histories[label].append(read_history(done))
                continue
            keras.utils.set_random_seed(seed)
            model = build_model(seed, split=label == "split")
            fids = GMMFIDHistory(reference, feature_model, every=fid_every, components=components,
                                 num_samples=num_samples, seed=seed, batch_size=batch_size)
            histories[label].append(train(
                model, x_train, x_val, os.path.join(folder, weights_name), done, epochs=epochs,
                batch_size=batch_size, learning_rate=learning_rate, callbacks=[fids]))
    return histories
