"""GAMIX-VAE training throughput next to a plain reference step, as a ratio.

One run, one process, TensorFlow backend. Variants, timed in interleaved
repeats (the machine may be shared: interleaving spreads the load evenly),
median images/s of `--steps` timed steps per repeat after a warm-up:

- `fit`: the package, what users get: `GamixVAE.compile()` + `fit` (Keras's
  own train_step, GroupedOptimizer, progress-bar trackers). Its loss runs
  the discriminator three times per step: D(x), D(stop_gradient(x_hat)) and
  D(x_hat) with frozen weights (the portable single-scalar step).
- `reference`: the author's step written here as a plain `tf.function`:
  one forward pass, D(x) and D(x_hat) once, two GradientTapes (generator and
  discriminator losses), two Adam updates. Same networks, same loss terms
  (`keras_vaes.losses.gamix`), same inference-mode BN. The ratio fit /
  reference is the price of the portable step (one extra discriminator
  forward pass, plus Keras's machinery); it is printed per repeat too, as
  the paired ratio with its median and range.
- `baseline`: `fit` of the standard-VAE baseline (no discriminator): what
  the adversary costs.

Usage:
    python benchmarks/gamix_throughput.py                # CPU configuration, batch 64
    python benchmarks/gamix_throughput.py --config paper --batch-size 10 --steps 3
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_vaes.blocks import resnet_v2  # noqa: E402
from keras_vaes.configs.gamix import model_kwargs  # noqa: E402
from keras_vaes.losses import gamix as gl  # noqa: E402
from keras_vaes.models.gamix import build_gamix_vae  # noqa: E402

# The networks of keras_vaes.configs.gamix: the CPU one and the paper's (CelebA-HQ).
CONFIGS = {"cpu": model_kwargs("fashion_mnist"), "paper": model_kwargs("celeba_hq")}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cpu", help="network configuration")
    parser.add_argument("--batch-size", type=int, default=64, help="images per step (author: 10 at 256x256)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats per variant")
    parser.add_argument("--variants", default="fit,reference,baseline", help="comma-separated variants")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and data")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args()


class StepTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def fit_runner(model, x, batch_size):
    """Times fit: images/s between the first and last batch end (first step excluded)."""
    model.compile()
    model.fit(x[: 2 * batch_size], batch_size=batch_size, epochs=1, verbose=0)  # trace, warm up

    def run():
        timer = StepTimes()
        model.fit(x, batch_size=batch_size, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
        steps = len(timer.times) - 1
        return steps * batch_size / (timer.times[-1] - timer.times[0])

    return run


def reference_runner(config, x, batch_size, seed):
    """The author's step: one forward pass, two tapes, two Adam updates."""
    import tensorflow as tf

    encoder = resnet_v2.resnet_v2_encoder(config["input_shape"], config["latent_dim"], config["filters"])
    decoder = resnet_v2.resnet_v2_decoder(config["input_shape"], config["latent_dim"], config["filters"])
    discriminator = resnet_v2.patchgan_discriminator(
        config["input_shape"], config["filters"], config["discriminator_strides"]
    )
    vae_vars = encoder.trainable_variables + decoder.trainable_variables
    d_vars = discriminator.trainable_variables
    opt_g = keras.optimizers.Adam(1e-4, beta_1=0.5)
    opt_d = keras.optimizers.Adam(1e-4, beta_1=0.5)
    opt_g.build(vae_vars)
    opt_d.build(d_vars)
    seeds = keras.random.SeedGenerator(seed)

    @tf.function
    def step(batch):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            z_mean, z_log_var = encoder(batch, training=False)
            eps = keras.random.normal(tf.shape(z_mean), seed=seeds)
            x_hat = decoder(z_mean + tf.exp(0.5 * z_log_var) * eps, training=False)
            real = discriminator(batch, training=False)
            fake = discriminator(x_hat, training=False)
            g_loss = (5000.0 * gl.l1_reconstruction(batch, x_hat) + gl.batch_mixture_kl(z_mean)
                      + 0.1 * gl.variance_regularizer(z_log_var) + 100.0 * gl.patch_generator_loss(fake))
            d_loss = 100.0 * gl.discriminator_loss(real, fake)
        opt_g.apply(g_tape.gradient(g_loss, vae_vars), vae_vars)
        opt_d.apply(d_tape.gradient(d_loss, d_vars), d_vars)
        return g_loss

    batches = [tf.constant(x[i : i + batch_size]) for i in range(0, len(x) - batch_size + 1, batch_size)]
    step(batches[0]).numpy()  # trace, warm up

    def run():
        step(batches[0]).numpy()
        start = time.perf_counter()
        for batch in batches[1:]:
            loss = step(batch)
        loss.numpy()
        return (len(batches) - 1) * batch_size / (time.perf_counter() - start)

    return run


def main():
    args = parse_args()
    config = CONFIGS[args.config]
    keras.utils.set_random_seed(args.seed)
    n = (args.steps + 1) * args.batch_size
    x = np.random.default_rng(args.seed).uniform(-1, 1, (n,) + config["input_shape"]).astype("float32")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    runners = {}
    for variant in variants:
        if variant == "fit":
            runners[variant] = fit_runner(build_gamix_vae(**config, seed=args.seed), x, args.batch_size)
        elif variant == "baseline":
            model = build_gamix_vae(**config, kl="standard", adversarial=False, seed=args.seed)
            runners[variant] = fit_runner(model, x, args.batch_size)
        elif variant == "reference":
            runners[variant] = reference_runner(config, x, args.batch_size, args.seed)
        else:
            raise ValueError(f"Unknown variant. Expected fit, reference or baseline. Received: {variant!r}")
    rates = {v: [] for v in variants}
    for repeat in range(args.repeats):
        for variant in variants:
            rates[variant].append(runners[variant]())
            print(f"repeat {repeat + 1}/{args.repeats} {variant:9s} {rates[variant][-1]:8.1f} images/s", flush=True)
    medians = {v: statistics.median(r) for v, r in rates.items()}
    print(f"\nGAMIX-VAE training throughput, config {args.config} {config['input_shape']}, batch "
          f"{args.batch_size}, {args.steps} timed steps x {args.repeats} interleaved repeats, "
          f"backend {keras.backend.backend()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| variant | images/s (median) | all repeats | ratio to reference |")
    print("|---|---|---|---|")
    for variant in variants:
        ratio = medians[variant] / medians["reference"] if "reference" in medians else float("nan")
        shown = ", ".join(f"{r:.1f}" for r in rates[variant])
        print(f"| {variant} | {medians[variant]:.1f} | {shown} | {ratio:.2f} |")
    paired = {}
    if "reference" in rates:
        # Each repeat times every variant back to back: the ratio within a
        # repeat shares the machine's load of that moment.
        print("\n| variant | ratio to reference per repeat | median | min-max |")
        print("|---|---|---|---|")
        for variant in variants:
            if variant == "reference":
                continue
            ratios = [a / b for a, b in zip(rates[variant], rates["reference"])]
            paired[variant] = ratios
            print(f"| {variant} | {', '.join(f'{r:.2f}' for r in ratios)} | {statistics.median(ratios):.2f} | "
                  f"{min(ratios):.2f}-{max(ratios):.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": args.config, "batch_size": args.batch_size, "rates": rates,
                       "medians": medians, "paired_ratios": paired}, f, indent=1)


if __name__ == "__main__":
    main()
