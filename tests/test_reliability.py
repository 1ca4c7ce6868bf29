"""Bad inputs and faults against the public API (issue 18, classes 1-7).

Each case asserts the exception type and that the message names what was
received. Classes: (1) saves never prompt, (2) every model stops on a NaN
loss, (3) datasets / generators are checked on their first batch, (4) each
model knows its value range, (5) arguments are validated, (6) files: clear
load errors, no half-loaded model, no debris of killed saves, (7) empty and
odd containers. The command-line cases are in tests/test_examples.py.

Tiny models (8x8 images, a few filters), built once per module.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vaes as kv
from keras_vaes import callbacks, samplers, utils
from keras_vaes.metrics.fid import FeatureStatistics, frechet_distance
from keras_vaes.metrics.neighbours import nearest_neighbours
from keras_vaes.callbacks import TrainingDivergedError
from keras_vaes.utils import ValueRangeWarning

SHAPE = (8, 8, 1)
LATENT = 8
TIMEOUT = 240  # seconds for a subprocess case: a hang fails instead of stalling CI

BUILDERS = {
    "svae": lambda **kw: kv.build_svae(SHAPE, LATENT, **{
        **dict(base_dim=4, emb_dim=8, num_scale=1, seed=0), **kw}),
    "gamix": lambda **kw: kv.build_gamix_vae(SHAPE, LATENT, **{
        **dict(filters=4, discriminator_filters=4, discriminator_strides=(2, 1, 1, 1, 1, 1)), **kw}),
    "fp_vae": lambda **kw: kv.build_flow_prior_vae(SHAPE, LATENT, **{
        **dict(beta=0.0, num_couplings=2, hidden_units=8, filters=(4, 8), dense_units=16, seed=0),
        **kw}),
    "prior_aae": lambda **kw: kv.build_prior_aae(SHAPE, LATENT, **{
        **dict(filters=(4, 8), dense_units=16, discriminator_units=(8,), generator_units=(8,),
               seed=0), **kw}),
}
ALL = sorted(BUILDERS)


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return {name: build() for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((16,) + SHAPE).astype("float32")


def data_for(name, x):
    """[0, 1] images in the model's value range."""
    return 2.0 * x - 1.0 if name == "gamix" else x


def fresh(name, **kwargs):
    model = BUILDERS[name](**kwargs)
    model.compile(run_eagerly=True)  # a few steps: no graph tracing
    return model


def poison(model):
    """Every decoder weight NaN: the first training step's loss is NaN."""
    for variable in model.decoder.weights:
        variable.assign(np.full(variable.shape, np.nan, dtype=variable.dtype))


# --- (5) Builders: every argument validated -----------------------------------


@pytest.mark.parametrize("name", ALL)
def test_input_shape_none_is_named(name):
    with pytest.raises(ValueError, match=r"height is None.*Received: input_shape=\(None, None, 1\)"):
        _build_with_shape(name, (None, None, 1))


@pytest.mark.parametrize("name", ALL)
def test_input_shape_zero_channels_is_named(name):
    with pytest.raises(ValueError, match=r"channels is 0, not a positive integer.*\(8, 8, 0\)"):
        _build_with_shape(name, (8, 8, 0))


@pytest.mark.parametrize("name", ["svae", "gamix"])
def test_input_shape_fractional_side_is_named(name):
    with pytest.raises(ValueError, match=r"width is 8\.5, not a positive integer"):
        _build_with_shape(name, (8, 8.5, 1))


def _build_with_shape(name, shape):
    builder = {
        "svae": kv.build_svae, "gamix": kv.build_gamix_vae,
        "fp_vae": kv.build_flow_prior_vae, "prior_aae": kv.build_prior_aae,
    }[name]
    return builder(shape, LATENT)


@pytest.mark.parametrize("name", ["svae", "gamix"])
@pytest.mark.parametrize("latent_dim, shown", [(2.5, r"2\.5"), ("32", r"'32' \(str\)")])
def test_latent_dim_not_an_integer(name, latent_dim, shown):
    with pytest.raises(ValueError, match=rf"`latent_dim` must be a positive integer. Received: latent_dim={shown}"):
        _build_latent(name, latent_dim)


def _build_latent(name, latent_dim):
    if name == "svae":
        return kv.build_svae(SHAPE, latent_dim, base_dim=4, emb_dim=8, num_scale=1)
    return kv.build_gamix_vae(SHAPE, latent_dim, filters=4)


@pytest.mark.parametrize("beta, shown", [(float("nan"), "nan"), (-1, "-1"), (float("inf"), "inf")])
def test_svae_beta_finite_non_negative(beta, shown):
    with pytest.raises(ValueError, match=rf"`beta` must be a finite number >= 0. Received: beta={shown}"):
        BUILDERS["svae"](beta=beta)


@pytest.mark.parametrize("weight", ["kl_weight", "reconstruction_weight", "adversarial_weight"])
def test_gamix_loss_weights_finite_non_negative(weight):
    with pytest.raises(ValueError, match=rf"`{weight}` must be a finite number >= 0. Received: {weight}=-1"):
        BUILDERS["gamix"](**{weight: -1})


@pytest.mark.parametrize("argument", ["base_dim", "emb_dim", "num_scale", "kernel_size"])
def test_svae_sizes_positive_integers(argument):
    with pytest.raises(ValueError, match=rf"`{argument}` must be a positive integer. Received: {argument}=0"):
        BUILDERS["svae"](**{argument: 0})


def test_gamix_filters_positive_integer():
    with pytest.raises(ValueError, match=r"`filters` must be a positive integer. Received: filters=0"):
        BUILDERS["gamix"](filters=0)


def test_normal_prior_vae_num_classes_zero_refused():
    # num_classes=0 used to build an unconditional model silently.
    with pytest.raises(ValueError, match=r"`num_classes` must be a positive integer. Received: num_classes=0"):
        BUILDERS["fp_vae"](prior="normal", num_classes=0)


@pytest.mark.parametrize("name", ["fp_vae", "prior_aae"])
def test_dense_units_positive_integer(name):
    with pytest.raises(ValueError, match=r"`dense_units` must be a positive integer. Received: dense_units=0"):
        BUILDERS[name](dense_units=0)


def test_validators_name_type_and_expectation():
    with pytest.raises(ValueError, match=r"`n` must be a positive integer. Received: n=True \(bool\)"):
        utils.check_positive_int(True, "n")
    with pytest.raises(ValueError, match=r"`lr` must be a finite number > 0. Received: lr=0"):
        utils.check_positive_float(0, "lr")
    with pytest.raises(ValueError, match=r"`w` must be a finite number >= 0. Received: w='1' \(str\)"):
        utils.check_non_negative_float("1", "w")


def _first_stage():
    return kv.FirstStage(SHAPE, LATENT, base_dim=4, num_scale=2, fc_dim=8)


def test_two_stage_input_shape_none_is_named():
    with pytest.raises(ValueError, match=r"height is None"):
        kv.build_two_stage_vae((None, None, 1), 4, base_dim=8, num_scale=2, fc_dim=16, second_dim=16)


def test_second_stage_kl_weight_refused():
    with pytest.raises(ValueError, match=r"`kl_weight` must be a finite number >= 0. Received: kl_weight=-1"):
        kv.SecondStage(4, second_dim=8, kl_weight=-1)


# --- (2) Every model stops on a NaN loss ----------------------------------------


@pytest.mark.parametrize("name", ["gamix", "fp_vae", "prior_aae"])
def test_nan_loss_raises_training_diverged(name, images):
    model = fresh(name)
    poison(model)
    with pytest.raises(TrainingDivergedError, match=r"diverged at batch 0 of epoch 1.*is nan"):
        model.fit(data_for(name, images), batch_size=8, epochs=2, verbose=0)


@pytest.mark.parametrize("name, kwargs", [("fp_vae", dict(prior="normal")), ("prior_aae", dict(prior="normal"))])
def test_nan_loss_baselines_raise(name, kwargs, images):
    model = fresh(name, **kwargs)
    poison(model)
    with pytest.raises(TrainingDivergedError, match=r"NaN or inf"):
        model.fit(images, batch_size=8, epochs=1, verbose=0)


def test_no_checkpoint_after_divergence(images, tmp_path):
    model = fresh("gamix")
    poison(model)
    path = tmp_path / "ckpt.weights.h5"
    checkpoint = keras.callbacks.ModelCheckpoint(str(path), save_weights_only=True, save_freq=1)
    with pytest.raises(TrainingDivergedError, match="training data hold no NaN"):
        model.fit(2 * images - 1, batch_size=8, epochs=1, verbose=0, callbacks=[checkpoint])
    assert not path.exists()


def test_nan_in_a_later_dataset_batch_names_the_data(models, images):
    x = images.copy()
    x[12, 0, 0, 0] = np.nan  # second batch: the first-batch check passes
    model = fresh("svae")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(8)
    with pytest.raises(TrainingDivergedError, match=r"batch 1 of epoch 1.*training data hold no NaN"):
        model.fit(dataset, epochs=1, verbose=0)


def test_guard_added_once():
    guard = callbacks.StopOnDivergence()
    assert callbacks.with_divergence_guard([guard]) == [guard]
    assert isinstance(callbacks.with_divergence_guard(None)[0], callbacks.StopOnDivergence)
    # The same class wherever the package exposes it.
    assert kv.TrainingDivergedError is TrainingDivergedError


# --- (3) tf.data / generators / PyDataset checked on their first batch ---------


@pytest.mark.parametrize("name", ALL)
def test_dataset_of_0_255_images_refused(name, models, images):
    dataset = tf.data.Dataset.from_tensor_slices(images * 255).batch(8)
    with pytest.raises(ValueError, match=r"values in \[-?[01], 1\]. Received: a dataset whose first batch holds 0-255 pixel values"):
        models[name].fit(dataset, epochs=1, verbose=0)


def test_first_stage_dataset_of_0_255_images_refused(images):
    dataset = tf.data.Dataset.from_tensor_slices(images * 255).batch(8)
    with pytest.raises(ValueError, match=r"\[0, 1\]. Received: .*first batch holds 0-255 .*dataset.map\(lambda x: x / 255.0\)"):
        _first_stage().fit(dataset, verbose=0)


def test_first_stage_encode_empty(images):
    with pytest.raises(ValueError, match=r"empty.*Received: images.shape=\(0, 8, 8, 1\)"):
        _first_stage().encode(images[:0])


def test_dataset_nan_in_first_batch_refused(models, images):
    x = images.copy()
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite.*Received: 1 non-finite of 512 values"):
        models["svae"].fit(tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0)


def test_gamix_dataset_batches_of_one_refused(models, images):
    dataset = tf.data.Dataset.from_tensor_slices(2 * images - 1).batch(1)
    with pytest.raises(ValueError, match=r"at least 2 images. Received: a first batch of 1 image"):
        models["gamix"].fit(dataset, verbose=0)


def test_dataset_of_another_image_size_refused(models):
    x = np.zeros((4, 16, 16, 1), "float32")
    with pytest.raises(ValueError, match=r"\(8, 8, 1\). Received: the first batch of `x`.shape=\(4, 16, 16, 1\)"):
        models["svae"].fit(tf.data.Dataset.from_tensor_slices(x).batch(4), verbose=0)


def test_empty_dataset_refused(models, images):
    with pytest.raises(ValueError, match=r"`x` is an empty tf.data.Dataset"):
        models["svae"].fit(tf.data.Dataset.from_tensor_slices(images[:0]).batch(4), verbose=0)


def test_generator_checked_on_its_first_batch_without_losing_it(images):
    def batches(scale, seen):
        for i in range(4):
            seen.append(i)
            yield (images[:8] * scale,)

    model = fresh("svae")
    with pytest.raises(ValueError, match=r"\[0, 1\]. Received: .*first batch holds 0-255 .*dataset.map\(lambda x: x / 255.0\)"):
        model.fit(batches(255, []), steps_per_epoch=4, verbose=0)
    seen = []
    history = model.fit(batches(1, seen), steps_per_epoch=4, epochs=1, verbose=0)
    assert seen == [0, 1, 2, 3] and len(history.history["loss"]) == 1


def test_generator_of_bare_arrays_short_message(models, images):
    def batches():
        while True:
            yield images[:8]

    with pytest.raises(ValueError, match=r"must yield tuples.*Received: a first batch = ndarray of shape \(8, 8, 8, 1\)") as info:
        models["svae"].fit(batches(), steps_per_epoch=1, verbose=0)
    assert len(str(info.value)) < 400


def test_pydataset_of_0_255_images_refused(models, images):
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return images[index * 8 : (index + 1) * 8] * 255

    with pytest.raises(ValueError, match=r"values in \[0, 1\]. Received: a dataset whose first batch holds 0-255"):
        models["fp_vae"].fit(Batches(), verbose=0)


@pytest.mark.parametrize("batch_size", [0, 2.5])
def test_fit_batch_size_validated(models, images, batch_size):
    with pytest.raises(ValueError, match=rf"`batch_size` must be a positive integer. Received: batch_size={batch_size}"):
        models["svae"].fit(images, batch_size=batch_size, verbose=0)


def test_unsupervised_fit_refuses_targets(models, images):
    with pytest.raises(ValueError, match=r"unconditional.*Received: labels = ndarray of shape \(16,\).*`fit\(x\)` without `y`"):
        models["svae"].fit(images, np.zeros(16, "int64"), verbose=0)


@pytest.mark.parametrize("form", ["y", "tuple"])
def test_unconditional_flow_prior_refuses_labels(models, images, form):
    labels = np.arange(16) % 3
    args = (images, labels) if form == "y" else ((images, labels),)
    with pytest.raises(ValueError, match=r"unconditional \(num_classes=None\).*Received: labels = ndarray of shape \(16,\)"):
        models["fp_vae"].fit(*args, verbose=0)


# --- (4) Each model knows its value range ----------------------------------------


def test_gamix_fit_warns_on_unit_range_images(images):
    model = fresh("gamix")
    with pytest.warns(ValueRangeWarning, match=r"values in \[-1, 1\]; received values in \[0"):
        model.fit(images, batch_size=8, epochs=1, verbose=0)


def test_gamix_dataset_of_unit_range_images_warns(images):
    model = fresh("gamix")
    with pytest.warns(ValueRangeWarning, match=r"look like images in \[0, 1\]"):
        model.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0)


def test_gamix_encode_warns_on_unit_range_images(models, images):
    with pytest.warns(ValueRangeWarning, match=r"2 \* x - 1"):
        models["gamix"].encode(images)


@pytest.mark.parametrize("name", ["svae", "fp_vae", "prior_aae"])
def test_unit_models_refuse_signed_images_with_hint(name, models, images):
    with pytest.raises(ValueError, match=r"\[0, 1\]. Received: values in \[-[01].*look like images in \[-1, 1\]: use \(x \+ 1\) / 2"):
        models[name].fit(2 * images - 1, verbose=0)


def test_gamix_refuses_0_255_with_its_own_hint(models, images):
    with pytest.raises(ValueError, match=r"\[-1, 1\]. Received: .*0-255 pixel values.*x / 127.5 - 1"):
        models["gamix"].fit(tf.data.Dataset.from_tensor_slices(images * 255).batch(8), verbose=0)


# --- (7) Empty and odd containers -------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_encode_empty_batch(name, models, images):
    with pytest.raises(ValueError, match=r"empty: expected at least one image. Received: images.shape=\(0, 8, 8, 1\)"):
        models[name].encode(data_for(name, images)[:0])


@pytest.mark.parametrize("name", ALL)
def test_fit_empty_batch(name, models, images):
    with pytest.raises(ValueError, match=r"x is empty.*Received: x.shape=\(0, 8, 8, 1\)"):
        models[name].fit(data_for(name, images)[:0], verbose=0)


def test_fit_list_of_images_trains(images):
    model = fresh("svae")
    history = model.fit(list(images), batch_size=8, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1


def test_fit_ragged_list_message_is_short(models, images):
    ragged = [images[0], images[1, :4]]
    with pytest.raises(ValueError, match=r"Received: x = list of 2 ndarray of shapes \(4, 8, 1\), \(8, 8, 1\)") as info:
        models["svae"].fit(ragged, verbose=0)
    assert len(str(info.value)) < 400


def test_fit_list_of_0_255_images_short_message(models, images):
    with pytest.raises(ValueError, match=r"divide by 255") as info:
        models["svae"].fit(list(images * 255), verbose=0)
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("name", ALL)
def test_decode_nan_latents(name, models):
    z = np.zeros((2, LATENT), "float32")
    z[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite.*Received: 1 non-finite of 16 values"):
        models[name].decode(z)


def test_decode_empty_latents(models):
    with pytest.raises(ValueError, match=r"Received: z.shape=\(0, 8\)"):
        models["svae"].decode(np.zeros((0, LATENT), "float32"))


def test_generate_with_a_non_sampler(models):
    with pytest.raises(TypeError, match=r"`sampler` must have `sample\(n, seed=None\)`.*Received: dict"):
        models["svae"].generate(2, sampler={"mean": 0})


def test_generate_with_a_sampler_of_another_latent_size(models):
    with pytest.raises(ValueError, match=r"of shape \(N, 8\). Received: sampler.sample\(n\).shape=\(2, 3\)"):
        models["svae"].generate(2, sampler=samplers.NormalSampler(3))


def test_gmm_fit_on_nan_codes_names_them():
    codes = np.zeros((10, 4))
    codes[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf.*Received"):
        samplers.GMMSampler(2).fit(codes)


@pytest.mark.parametrize("argument, value, shown", [
    ("every", 1.5, r"1\.5"), ("components", "3", r"'3' \(str\)"), ("num_samples", 0, "0"),
])
def test_gmm_fid_history_arguments_validated(argument, value, shown, images):
    from keras_vaes.callbacks import GMMFIDHistory

    with pytest.raises(ValueError, match=rf"`{argument}` must be a positive integer. Received: {argument}={shown}"):
        GMMFIDHistory(images, feature_model=None, **{argument: value})


def test_frechet_distance_of_one_sample():
    features = np.random.default_rng(0).normal(size=(1, 3))
    mu, sigma = features.mean(axis=0), np.cov(features, rowvar=False)
    with np.errstate(all="ignore"):
        with pytest.raises(ValueError, match=r"needs at least 2 samples.*Received: 0 non-finite of 3 entries in mu1, 9 of 9"):
            frechet_distance(mu, sigma, np.zeros(3), np.eye(3))


def test_frechet_statistics_of_one_sample():
    with np.errstate(all="ignore"):
        sigma = np.cov(np.ones((1, 3)), rowvar=False)
    with pytest.raises(ValueError, match=r"needs at least 2 samples.*Received: 0 non-finite of 3 entries in mu"):
        FeatureStatistics(np.ones(3), sigma, count=1)


@pytest.mark.parametrize("k, shown", [(2.5, r"2\.5"), ("1", r"'1' \(str\)")])
def test_nearest_neighbours_k_validated(k, shown):
    with pytest.raises(ValueError, match=rf"`k` must be a positive integer. Received: k={shown}"):
        nearest_neighbours(np.zeros((2, 4)), np.zeros((3, 4)), k=k)


def test_nearest_neighbours_nan_refused():
    queries = np.zeros((2, 4))
    queries[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"must be finite. Received: 1 non-finite values in queries"):
        nearest_neighbours(queries, np.zeros((3, 4)))


# --- (1) Saves never prompt; (6) files ---------------------------------------------


@pytest.mark.parametrize("name", ["svae", "gamix"])
def test_save_weights_no_overwrite_raises(name, models, tmp_path):
    path = tmp_path / "m.weights.h5"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match=rf"Refusing to overwrite '{re.escape(str(path))}'.*overwrite=False"):
        models[name].save_weights(path, overwrite=False)
    assert path.read_bytes() == b"keep me"


def test_save_keras_no_overwrite_raises(models, tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match=re.escape(str(path))):
        models["svae"].save(path, overwrite=False)


def test_save_weights_onto_a_directory(models, tmp_path):
    path = tmp_path / "m.weights.h5"
    path.mkdir()
    with pytest.raises(IsADirectoryError, match=rf"'{re.escape(str(path))}': it is a directory"):
        models["svae"].save_weights(path)


def test_save_no_overwrite_through_an_open_pipe_does_not_hang(tmp_path):
    # Keras's own save_weights(overwrite=False) asks on stdin: through an open
    # pipe it blocked forever. The subprocess has a time limit.
    path = tmp_path / "m.weights.h5"
    path.write_bytes(b"keep me")
    script = textwrap.dedent(f"""
        import keras
        from keras_vaes.models.saving import SafeSaving
        class Model(SafeSaving, keras.Sequential):
            pass
        model = Model([keras.Input((2,)), keras.layers.Dense(2)])
        try:
            model.save_weights({str(path)!r}, overwrite=False)
        except FileExistsError as error:
            print("RAISED", error)
    """)
    # TensorFlow: the README's install line has it (Keras's numpy backend imports jax).
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.run([sys.executable, "-c", script], stdin=subprocess.PIPE, capture_output=True,
                             text=True, timeout=TIMEOUT, env=env)
    assert "RAISED Refusing to overwrite" in process.stdout, process.stderr[-2000:]


@pytest.fixture(scope="module")
def saved(models, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "svae.weights.h5"
    models["svae"].save_weights(path)
    return path


@pytest.mark.parametrize("damage, message", [
    ("truncated", r"truncated or corrupt"),
    ("empty", r"is empty \(0 bytes\)"),
    ("random", r"is not an HDF5 file"),
    ("text", r"is not an HDF5 file \(it starts with b'weights"),
])
def test_load_damaged_file_names_it(damage, message, models, saved, tmp_path):
    raw = saved.read_bytes()
    content = {
        "truncated": raw[: len(raw) // 2],
        "empty": b"",
        "random": np.random.default_rng(0).bytes(4096),
        "text": b"weights? no, notes\n",
    }[damage]
    path = tmp_path / f"{damage}.weights.h5"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"'{re.escape(str(path))}'.*{message}"):
        models["svae"].load_weights(path)


def test_load_a_directory(models, tmp_path):
    with pytest.raises(IsADirectoryError, match=rf"'{re.escape(str(tmp_path))}': it is a directory"):
        models["svae"].load_weights(tmp_path)


@pytest.mark.parametrize("name", ALL)
def test_failed_load_changes_nothing(name, models, tmp_path):
    # Another latent size: the shapes differ in a few layers only.
    builder = {
        "svae": lambda: kv.build_svae(SHAPE, 4, base_dim=4, emb_dim=8, num_scale=1),
        "gamix": lambda: kv.build_gamix_vae(SHAPE, 16, filters=4, discriminator_filters=4,
                                            discriminator_strides=(2, 1, 1, 1, 1, 1)),
        "fp_vae": lambda: kv.build_flow_prior_vae(SHAPE, 4, beta=0.0, num_couplings=2, hidden_units=8,
                                                  filters=(4, 8), dense_units=16),
        "prior_aae": lambda: kv.build_prior_aae(SHAPE, 4, filters=(4, 8), dense_units=16,
                                                discriminator_units=(8,), generator_units=(8,)),
    }[name]
    path = tmp_path / "other.weights.h5"
    builder().save_weights(path)
    model = models[name]
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(ValueError, match=rf"'{re.escape(str(path))}'.*different configuration; the model's weights are unchanged"):
        model.load_weights(path)
    after = model.get_weights()
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(before, after))


def test_stale_temporary_of_a_killed_save_is_removed(models, tmp_path):
    path = tmp_path / "m.weights.h5"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".tmp-m-{dead}-0123abcd.weights.h5"
    stale.write_bytes(b"half a save")
    other = tmp_path / ".tmp-other-1-0123abcd.weights.h5"  # another target's: kept
    other.write_bytes(b"x")
    models["svae"].save_weights(path)
    assert not stale.exists() and other.exists() and path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "m.weights.h5"]


KILL_SCRIPT = r"""
import glob, json, os, random, signal, sys, time
import numpy as np
import keras
from keras_vaes.models.saving import SafeSaving

class Model(SafeSaving, keras.Sequential):
    pass

def build():
    return Model([keras.Input((512,)), keras.layers.Dense(1024), keras.layers.Dense(512)])

directory, kills = sys.argv[1], int(sys.argv[2])
target = os.path.join(directory, "model.weights.h5")
model = build()
model.save_weights(target)
random.seed(0)
report = {"kills": 0, "mid_save": 0, "torn": 0}
for attempt in range(kills):
    pid = os.fork()
    if pid == 0:  # the saver: rewrites the target, each version one constant
        version = 0
        while True:
            version += 1
            for w in model.weights:
                w.assign(np.full(w.shape, version, "float32"))
            model.save_weights(target)
    time.sleep(random.uniform(0.05, 0.4))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    report["kills"] += 1
    if glob.glob(os.path.join(directory, ".tmp-*")):
        report["mid_save"] += 1
    check = build()
    check.load_weights(target)  # the target always loads...
    values = {float(np.unique(w)[0]) for w in check.get_weights() if np.unique(w).size == 1}
    sizes = {np.unique(w).size for w in check.get_weights()}
    if sizes != {1} or len(values) != 1:  # ...and holds one whole version
        report["torn"] += 1
model.save_weights(target)  # the next save removes the killed saves' debris
report["left"] = sorted(os.path.basename(p) for p in glob.glob(os.path.join(directory, ".tmp-*")))
print("REPORT" + json.dumps(report))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_kill_9_mid_save_repeatedly(tmp_path):
    # TensorFlow: the README's install line has it (Keras's numpy backend imports jax).
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path), "8"],
                             capture_output=True, text=True, timeout=TIMEOUT, env=env)
    lines = [line for line in process.stdout.splitlines() if line.startswith("REPORT")]
    assert lines, process.stderr[-3000:]
    report = json.loads(lines[-1][len("REPORT"):])
    assert report["kills"] == 8 and report["torn"] == 0 and report["left"] == []
    assert report["mid_save"] >= 1  # at least one kill landed inside a save
    # The surviving file is a valid weights file for this process too.
    assert sorted(os.listdir(tmp_path)) == ["model.weights.h5"]
