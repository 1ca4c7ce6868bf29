"""Where the time of the README's first command goes (issue 21 item 4).

The README's first command evaluates a shipped preset:

    python examples/split_vae_mnist.py --pretrained svae_mnist_10ep \\
        --fid-samples 2000 --data path/to/mnist.npz

This runs that command in this process (`examples/split_vae.main`, same
flags) and times it as a whole and by phase: encoding the reference images,
decoding each latent set (REC, GEN, GMM-20, GMM-100; one `decode` per
row), fitting the GMMs, and feature extraction (the reference statistics
and every row x column image set), plus peak resident memory. The phases
are timed by wrapping the package's own functions; nothing else changes.
Timings on a loaded machine are not comparable: the 1-minute load average
is printed with them.

Usage:
    python benchmarks/eval_speed.py --data path/to/mnist.npz
    python benchmarks/eval_speed.py --data path/to/mnist.npz --fid-samples 200   # smoke run
    python benchmarks/eval_speed.py --json ...                                      # one JSON line
"""

import argparse
import functools
import json
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None,
                        help="a Keras-layout mnist.npz (default: the keras.datasets download)")
    parser.add_argument("--pretrained", default="svae_mnist_10ep")
    parser.add_argument("--fid-samples", type=int, default=2000,
                        help="images per FID (the README's command: 2000)")
    parser.add_argument("--output", default=None, help="folder of the command's outputs (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    return parser.parse_args(argv)


class Phases:
    """Seconds and calls per phase, from wrapped functions (outermost call only)."""

    def __init__(self):
        self.seconds, self.calls, self._active = {}, {}, set()

    def wrap(self, owner, name, phase):
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if phase in self._active:  # nested (e.g. fid_score -> compute_statistics)
                return original(*args, **kwargs)
            self._active.add(phase)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._active.discard(phase)
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start
                self.calls[phase] = self.calls.get(phase, 0) + 1

        setattr(owner, name, timed)


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    sys.path.insert(0, ROOT)
    start_import = time.perf_counter()
    import keras

    import split_vae  # examples/split_vae.py
    from keras_vaes.evaluation import split_vae as evaluation
    from keras_vaes import metrics
    from keras_vaes.metrics import extractors
    from keras_vaes.models.svae import SplitVAE
    from keras_vaes.samplers import GMMSampler

    imports = time.perf_counter() - start_import
    phases = Phases()
    phases.wrap(SplitVAE, "encode", "encode")
    phases.wrap(evaluation, "decode_latents", "decode (one per row)")
    phases.wrap(GMMSampler, "fit", "GMM fit")
    phases.wrap(GMMSampler, "sample", "GMM sample")
    # The judges call them through `keras_vaes.metrics` (`evaluation.tables.QualityMeasures`).
    phases.wrap(metrics, "extract_features", "feature extraction")
    phases.wrap(metrics, "precision_recall", "precision / recall")
    phases.wrap(extractors, "classifier_extractor_or_reason", "feature models (load)")
    phases.wrap(extractors, "feature_model_from_spec", "feature models (load)")
    # The example calls it through `evaluation.split_vae.evaluate_paper_table`.
    phases.wrap(evaluation, "evaluate_split_vae", "evaluate_split_vae (all)")
    phases.wrap(SplitVAE, "generate", "generate (figures)")
    with tempfile.TemporaryDirectory() as tmp:
        output = args.output or tmp
        argv = ["--pretrained", args.pretrained, "--fid-samples", str(args.fid_samples), "--output", output]
        argv += ["--data", args.data] if args.data else []
        start = time.perf_counter()
        if args.json:  # the command's own output is not wanted
            with open(os.devnull, "w") as null:
                stdout, sys.stdout = sys.stdout, null
                try:
                    split_vae.main(argv, dataset="mnist")
                finally:
                    sys.stdout = stdout
        else:
            split_vae.main(argv, dataset="mnist")
        total = time.perf_counter() - start
    report = {
        "command": "examples/split_vae_mnist.py " + " ".join(argv[:-2]),
        "keras_backend": keras.backend.backend(),
        "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "imports_s": imports,
        "total_s": total,
        "phases_s": phases.seconds,
        "phase_calls": phases.calls,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"\n{report['command']}\nbackend {report['keras_backend']}, {report['cpus']} CPUs, "
          f"1-min load average {report['load_average_1min']:.1f} (timings under load are not comparable)")
    print(f"imports {imports:.1f} s; the command {total:.1f} s; peak RSS {report['peak_rss_mb']:.0f} MB")
    for phase, seconds in sorted(phases.seconds.items(), key=lambda item: -item[1]):
        print(f"  {phase:<30}{seconds:>8.1f} s  ({phases.calls[phase]} calls, {seconds / total:.0%})")


if __name__ == "__main__":
    main()
