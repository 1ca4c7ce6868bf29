"""Each paper's configurations, one module per paper.

- `split_vae`: Asperti, Bugo, Filippini (IEEE Access 2022), Tables 1, 3, 4,
  and the paper's training recipe (Adam, resuming a checkpoint).
- `two_stage`: Asperti, "Variance Loss in Variational Autoencoders" (the
  authors' CIFAR-10 / CelebA scripts), Tables 1-2.
- `gamix`: Rivera, GAMIX-VAE (CelebA-HQ 256x256) and its CPU configuration.
- `learned_priors`: "Empirical observations pertaining to learned priors",
  the InfoGAN networks per dataset and the four models of its sweep.

Why a package of its own, not a file beside each model (keras-hub keeps
`<model>_presets.py` beside the backbone): a paper's configuration is more
than a model's arguments. It holds the training schedule and the table the
paper reports, so it imports the models and the paper's evaluation
numbers; the models sit below the evaluation in the import graph, and a
config module beside them would import upwards. Here the configurations
sit above both, one file per paper as keras-hub's one presets file per
model, and the examples, benchmarks and tests import them from here.
"""

from keras_vaes.configs import gamix, learned_priors, split_vae, two_stage  # noqa: F401
