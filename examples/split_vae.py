"""Split-VAE: every table and figure of the paper, one script per dataset choice.

Asperti, Bugo, Filippini, "Enhancing Variational Generation Through
Self-Decomposition", IEEE Access 2022. `--dataset mnist|cifar10|celeba`
selects the paper's configuration as defaults (`keras_vaes.configs.split_vae`:
MNIST latent 32, beta 8, 300 epochs, GMM 20 and 100; CIFAR-10 latent 200,
beta 3, 110 epochs, GMM 100; CelebA 64x64 latent 150, beta 3, 160 epochs,
GMM 100; the authors' ResNet, batch 100). `examples/split_vae_mnist.py` is
this script on MNIST. Writes:

    <output>/svae_<dataset>.weights.h5  trained weights (checkpoint every epoch, atomic)
    <output>/results.md, results.csv    Table 1/3/4 layout: REC, GEN, GMM-k x (x_hat, x1, x2, mix)
    <output>/split_rows.png             sigma, x1, x2, x_hat of generated images (Figures 1-4)
    <output>/generated.png              generated grid (Figures 7, 10, 12)
    <output>/images_<row>.png           each row's images (REC, GEN, GMM-k: x_hat, x1, x2, mix)
    <output>/variance_law.png, curves.png, arrays.csv
    <output>/table2.md, table2.csv      --category-table: Table 2 (each category vs test set)
    <output>/fid_evolution.png, .csv    --fid-every / --ablation-seeds: Figures 11, 14, 15

Minutes, not days (a shipped preset, offline classifier-feature FD):
    python examples/split_vae.py --dataset mnist --pretrained svae_mnist_10ep \
        --data path/to/mnist.npz

The paper's runs (a GPU and the data; FID needs the InceptionV3 weights):
    python examples/split_vae.py --dataset mnist --data mnist.npz
    python examples/split_vae.py --dataset cifar10 --data cifar-10-batches-py --category-table
    python examples/split_vae.py --dataset celeba --data img_align_celeba --cache-dir cache
    python examples/split_vae.py --dataset cifar10 --data cifar-10-batches-py \
        --ablation-seeds 0 1 2 3 4 --epochs 200 --fid-every 5     # Figure 14
"""

import functools
import os

import keras

from keras_vaes.callbacks import TrainingDivergedError
from keras_vaes.configs import split_vae as paper
from keras_vaes.evaluation.split_vae import save_generated_figures, write_training_fids
from keras_vaes.metrics import extractors

import _common  # examples/_common.py, beside the script: the flags every example shares
from _split_vae_flags import parse_split_vae_args, split_vae_parser  # the 31 flags, beside the script


def run_split_vae(args, parser):
    """Setup, data, model, train, show, evaluate (see the module docstring).

    `parser` (the one that parsed `args`) reports data it cannot use.
    """
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.dtype_policy)
    if args.dtype_policy != "float32":
        print(f"dtype policy {args.dtype_policy}: bfloat16/float16 convolutions, float32 "
              "heads, loss and weights (opt-in; the paper trained in float32)")
    if args.dataset == "celeba" and args.data is None:
        parser.error("argument --data: --dataset celeba needs the img_align_celeba folder. Received: no --data")
    (x_train, y_train), (x_test, y_test) = _common.load_dataset(
        parser, args.dataset, args.data, load=functools.partial(paper.load_data, args.dataset),
        cache_dir=args.cache_dir, train_size=args.train_size, test_size=args.test_size)
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder
    print(f"{args.dataset}: train {x_train.shape}, test {x_test.shape}")
    extractor, description, reason = None, "", "not needed"
    if args.category_table or args.fid_every or args.ablation_seeds:
        extractor, description, reason = extractors.resolve_feature_model(args.feature_model, args.dataset)
        print(f"feature model: {description}" + (f" -- FID unavailable: {reason}" if reason else ""))

    def features_for(flag):
        if extractor is None:
            raise SystemExit(f"{flag} needs a feature model: {reason}")
        return extractor

    reference, weights = x_test[: args.fid_samples], paper.weights_path(args.output, args.dataset)
    network = dict(latent_dim=args.latent_dim, beta=args.beta, **{name: getattr(args, name) for name in paper.NETWORK})
    if args.category_table:  # Table 2: each category vs the test set (a property of the data)
        if y_train is None:
            raise SystemExit(f"--category-table needs labels; {args.dataset} has none.")
        print(open(paper.category_table(
            args.dataset, x_train, y_train, reference, features_for("--category-table"), args.output,
            per_category=args.fid_samples, seed=args.seed, batch_size=args.batch_size,
            feature_description=description)).read())
        if args.epochs == 0 and not (args.weights or args.pretrained):
            return  # only the data's table was asked for
    if args.ablation_seeds:  # Figures 14/15: split vs vanilla over seeds
        histories = paper.ablation(
            lambda seed, split: paper.build_model(args.dataset, split=split, seed=seed, **network), x_train,
            x_test[:1000], reference, features_for("--ablation-seeds"), args.output, args.ablation_seeds,
            epochs=args.epochs, fid_every=args.fid_every, components=args.fid_gmm_components,
            num_samples=args.fid_samples, batch_size=args.batch_size, learning_rate=args.learning_rate,
            weights_name=os.path.basename(weights))
        print("wrote " + write_training_fids(histories, args.fid_gmm_components, args.output, description,
                                             args.dataset))
        return

    model = paper.load_model(
        args.dataset, preset=args.pretrained, weights=args.weights, gamma_images=x_train[:10000],
        resume=args.epochs > 0, learning_rate=args.learning_rate, split=not args.vanilla, seed=args.seed,
        verbose=1, **network)
    if args.epochs > 0:
        try:
            paper.train_run(
                model, x_train, x_test[:1000], args.output, args.dataset, epochs=args.epochs,
                batch_size=args.batch_size, learning_rate=args.learning_rate, initial_epoch=args.initial_epoch,
                fid_every=args.fid_every, reference=reference, fid_components=args.fid_gmm_components,
                feature_model=features_for("--fid-every") if args.fid_every else None, fid_samples=args.fid_samples,
                feature_description=description, label="vanilla" if args.vanilla else "split", seed=args.seed,
                verbose=1)
        except TrainingDivergedError as error:
            raise SystemExit(f"{error} (--learning-rate, --seed)") from error
    if args.recalibrate_bn:
        print(f"BatchNormalization statistics recomputed over {model.recalibrate_batch_norm(x_train[:10000])} batches")
        if args.epochs > 0:
            model.save_weights(weights)
    save_generated_figures(model, args.output, seed=args.seed)  # Figures 1-4, 7 / 10 / 12
    if args.no_eval:
        return
    source = (f"preset {args.pretrained}" if args.pretrained else f"{args.epochs} epoch(s) on {len(x_train)} images"
              + (f" after loading {args.weights}" if args.weights else ""))
    print(open(paper.evaluate(  # Table 1 / 3 / 4: FID (Inception) and, on MNIST, the offline FD beside
        model, x_test, args.dataset, args.output, feature_model=args.feature_model,
        gmm_components=args.gmm_components, gmm_fit_images=x_train if args.gmm_fit == "train" else None,
        num_samples=args.fid_samples, seed=args.seed, mix=args.mix, weights=source)).read())


def main(argv=None, dataset=None):
    parser = split_vae_parser(dataset)
    run_split_vae(parse_split_vae_args(argv, dataset=dataset, parser=parser), parser)


if __name__ == "__main__":
    main()
