"""One-off: rewrites a functional `BalancedVAE` weights file into the subclassed layout.

Until issue 29 the Split-VAE (and the two-stage stages) were functional
`keras.Model`s, whose `.weights.h5` files hold the encoder and decoder
under the functional model's layer list (`layers/functional`,
`layers/functional_1`). The models now subclass
`keras_vaes.models.base.GenerativeModel`, which saves them under their
attribute names (`encoder`, `decoder`). This script moves the groups;
every array is copied unchanged, gamma and the MSE estimate (`vars/`)
included.

    python tools/convert_weights.py weights/svae_mnist_10ep.weights.h5

converts the file in place (through a temporary file); `--output PATH`
writes elsewhere.
"""

import argparse
import os

import h5py

# Functional layer list entry -> the subclassed model's attribute.
FUNCTIONAL_BALANCED_VAE = {"functional": "encoder", "functional_1": "decoder"}


def convert_functional_vae_weights(source, target, mapping=None):
    """Writes `target`: `source` with `layers/<name>` moved to `mapping[name]`.

    Args:
        source: path of a `.weights.h5` written by the functional model.
        target: path to write (may be `source`: written through a
            temporary file, then renamed).
        mapping: dict layer-list name -> attribute name. Defaults to
            `FUNCTIONAL_BALANCED_VAE`.

    Returns:
        The sorted list of dataset paths written.

    Raises:
        ValueError: `source` has no `layers` group (already converted) or a
            layer-list entry holding weights that `mapping` does not name.
    """
    mapping = dict(FUNCTIONAL_BALANCED_VAE if mapping is None else mapping)
    temporary = f"{target}.converting"
    written = []
    try:
        with h5py.File(source, "r") as src, h5py.File(temporary, "w") as dst:
            if "layers" not in src:
                raise ValueError(
                    f"Expected a functional model's weights file with a `layers` group. "
                    f"Received: {source!r} with top-level groups {sorted(src.keys())}"
                )
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            for key in src.keys():
                if key != "layers":
                    src.copy(src[key], dst, name=key)
            for name in src["layers"].keys():
                group = src["layers"][name]
                if name not in mapping:
                    arrays = []
                    group.visititems(lambda n, o: arrays.append(n) if isinstance(o, h5py.Dataset) else None)
                    if arrays:
                        raise ValueError(
                            f"Expected the layer-list entries {sorted(mapping)}. Received: "
                            f"`layers/{name}` holding {len(arrays)} arrays in {source!r}"
                        )
                    continue
                src.copy(group, dst, name=mapping[name])
            dst.visititems(lambda n, o: written.append(n) if isinstance(o, h5py.Dataset) else None)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return sorted(written)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a functional BalancedVAE .weights.h5 file")
    parser.add_argument("--output", help="where to write (default: convert in place)")
    args = parser.parse_args()
    written = convert_functional_vae_weights(args.source, args.output or args.source)
    print(f"{args.output or args.source}: {len(written)} arrays in the subclassed layout")


if __name__ == "__main__":
    main()
