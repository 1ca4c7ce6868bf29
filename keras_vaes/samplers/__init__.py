"""Latent samplers fitted after training, renormalisation and interpolation.

As in pythae, what is fitted after training is kept apart from the models.
Every sampler has `fit(codes)`, `fit_on_encodings(model, images)` and
`sample(n, seed=None)`, and works with every model of the package through
`model.generate(n, sampler=sampler)`:

- `NormalSampler`: the prior N(0, I).
- `GMMSampler`: ex-post Gaussian mixture (Split-VAE, section IV).
- `FlowSampler`: ex-post RealNVP density (learned-priors paper, eq. 4).
- `SecondStageSampler`: the two-stage VAE's second stage as a sampler
  (Dai & Wipf 2019; Asperti 2020), with the authors' renormalisation rule.

Seeds: `sample(n, seed=s)` repeats; `seed=None` draws from the sampler's
own generator (`seeded_generator` of its constructor's seed, NumPy's global
state when that is None, so `keras.utils.set_random_seed` governs it).

Renormalisation at generation (variance-loss paper, section 4) and
interpolation (lerp, slerp) live here too.
"""

from keras_vaes.samplers.base import (
    LatentSampler,
    codes_of,
    decode_latents,
    encode_images,
    generate_images,
    seeded_generator,
)
from keras_vaes.samplers.flow import FlowSampler
from keras_vaes.samplers.gmm import GMMSampler
from keras_vaes.samplers.interpolation import lerp, slerp
from keras_vaes.samplers.normal import NormalSampler
from keras_vaes.samplers.second_stage import SecondStageSampler
from keras_vaes.samplers.renormalization import (
    mean_std,
    renormalization_target_std,
    renormalize_images,
    renormalize_latents,
    should_renormalize_latents,
)
