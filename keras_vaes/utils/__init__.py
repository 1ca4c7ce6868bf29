"""The package's helpers, one module per job.

- `checks`: argument and input checks, each raising with what is expected
  and what was received (`check_images`, `check_input_shape`, ...).
- `files`: atomic writes, the debris of killed saves, SHA-256.
- `messages`: `print_msg`, progress reported as Keras's callbacks do.

The divergence guard of `fit` is a callback: `keras_vaes.callbacks`.
"""

from keras_vaes.utils.checks import ValueRangeWarning
from keras_vaes.utils.checks import _image_part
from keras_vaes.utils.checks import _peek
from keras_vaes.utils.checks import as_array
from keras_vaes.utils.checks import check_fit_input
from keras_vaes.utils.checks import check_float
from keras_vaes.utils.checks import check_images
from keras_vaes.utils.checks import check_input_shape
from keras_vaes.utils.checks import check_latents
from keras_vaes.utils.checks import check_no_targets
from keras_vaes.utils.checks import check_non_negative_float
from keras_vaes.utils.checks import check_positive_float
from keras_vaes.utils.checks import check_positive_int
from keras_vaes.utils.checks import check_same_item_size
from keras_vaes.utils.checks import describe
from keras_vaes.utils.files import atomic_write
from keras_vaes.utils.files import remove_stale_temporaries
from keras_vaes.utils.files import sha256
from keras_vaes.utils.messages import print_msg
