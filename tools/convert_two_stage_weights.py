"""One-off: rewrites two-stage VAE weights of the old layouts into the one-file layout.

Until issue 29 a `TwoStageVAE` was a plain object holding two functional
stages: `save_weights(prefix)` wrote two files (`P.first_stage.weights.h5`,
`P.second_stage.weights.h5`) and `export_weights` one file with both stages
under `first_stage/` and `second_stage/`, each stage's encoder and decoder
in the functional model's layer list (`layers/functional`,
`layers/functional_1`). `TwoStageVAE` is now a `keras.Model` holding its
stages, and its `.weights.h5` holds them where Keras's saving walks its
attributes: the first stage under `first_stage/`, the second under
`layers/second_stage/` (Keras reaches it through `TwoStageVAE.layers`
before its attribute), each with `encoder/`, `decoder/` and `vars/`
(gamma and the MSE estimate). Every array is copied unchanged.

    python tools/convert_two_stage_weights.py weights/two_stage_mnist.weights.h5
    python tools/convert_two_stage_weights.py runs/x/two_stage --output runs/x/model.weights.h5

The first converts the file in place; the second reads the two files of
prefix `runs/x/two_stage`. The target is written atomically.
"""

import argparse
import os

import h5py

from keras_vaes.utils import atomic_write

# Where each stage lies in the new file, and its old layer-list entries.
STAGE_GROUPS = {"first_stage": "first_stage", "second_stage": "layers/second_stage"}
FUNCTIONAL_STAGE = {"functional": "encoder", "functional_1": "decoder"}


def _datasets(group):
    names = []
    group.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(names)


def _copy_stage(old, new_file, prefix, source):
    """Copies one old stage group into `new_file` under `prefix`, layer list renamed."""
    if "layers" not in old:
        raise ValueError(
            "Expected a functional stage with a `layers` group. Received: "
            f"{source!r} holding {sorted(old.keys())} at {old.name!r}"
        )
    for key in old.keys():
        if key != "layers":  # vars (gamma, MSE estimate), optimizer
            old.copy(old[key], new_file, name=f"{prefix}/{key}")
    for name in old["layers"].keys():
        group = old["layers"][name]
        if name not in FUNCTIONAL_STAGE:
            if _datasets(group):
                raise ValueError(
                    f"Expected the layer-list entries {sorted(FUNCTIONAL_STAGE)}. Received: "
                    f"{group.name!r} holding {len(_datasets(group))} arrays in {source!r}"
                )
            continue
        old.copy(group, new_file, name=f"{prefix}/{FUNCTIONAL_STAGE[name]}")


def old_stage_files(prefix):
    """`(P.first_stage.weights.h5, P.second_stage.weights.h5)`, the old `save_weights(P)` files."""
    prefix = os.fspath(prefix)
    return f"{prefix}.first_stage.weights.h5", f"{prefix}.second_stage.weights.h5"


def convert_two_stage_weights(source, target):
    """Writes `target` in the one-file layout from an old two-stage file or file pair.

    Args:
        source: an old one-file `.weights.h5` (stages under `first_stage/`
            and `second_stage/`), or the prefix P of the old pair
            `P.first_stage.weights.h5` / `P.second_stage.weights.h5`.
        target: the `.weights.h5` to write (may be `source`: written to a
            temporary file, then renamed over it).

    Returns:
        The sorted dataset paths of `target`.

    Raises:
        FileNotFoundError: neither a file nor a complete pair of files.
        ValueError: an old stage group without the functional layer list
            (e.g. a file already converted).
    """
    source, target = os.fspath(source), os.fspath(target)
    if os.path.isfile(source):
        def write(tmp):
            with h5py.File(source, "r") as old, h5py.File(tmp, "w") as new:
                missing = sorted(set(STAGE_GROUPS) - set(old.keys()))
                if missing:
                    raise ValueError(
                        f"Expected the old layout with groups {sorted(STAGE_GROUPS)}. Received: "
                        f"{source!r} with top-level groups {sorted(old.keys())}"
                    )
                for stage, prefix in STAGE_GROUPS.items():
                    _copy_stage(old[stage], new, prefix, source)
    else:
        files = old_stage_files(source)
        absent = [f for f in files if not os.path.isfile(f)]
        if absent:
            raise FileNotFoundError(
                "Expected an old two-stage .weights.h5 file, or the prefix of the two files "
                f"{list(files)}. Received: {source!r} (missing {absent})"
            )

        def write(tmp):
            with h5py.File(tmp, "w") as new:
                for (stage, prefix), path in zip(STAGE_GROUPS.items(), files):
                    with h5py.File(path, "r") as old:
                        _copy_stage(old, new, prefix, path)

    atomic_write(target, write)
    with h5py.File(target, "r") as f:
        return _datasets(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="an old two-stage .weights.h5, or the prefix of its two stage files")
    parser.add_argument("--output", help="where to write (default: the source file, in place)")
    args = parser.parse_args()
    target = args.output or args.source
    written = convert_two_stage_weights(args.source, target)
    print(f"{target}: {len(written)} arrays in the one-file layout")


if __name__ == "__main__":
    main()
