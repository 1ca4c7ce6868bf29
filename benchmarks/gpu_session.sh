#!/usr/bin/env bash
# Gets this checkout under the device machine's 64 MiB transfer limit and back.
#
#   bash benchmarks/gpu_session.sh prepare   # before the device call
#   # device run: command "bash benchmarks/claims_gpu.sh 8", carry ["gpu_data", ".whl"]
#   bash benchmarks/gpu_session.sh restore   # right after it
#
# The tracked tree is about 185 MB: the large preset weights (130 MB) and the
# ledger's saved images (43 MB) would not travel. `prepare` moves the
# preset weight files over 5 MB (the feature classifiers, the judge,
# stay) and benchmarks/results/claims_samples to ../gpu_aside (outside
# the checkout), copies mnist.npz / fashion_mnist.npz
# into gpu_data/ (ignored), downloads Keras and the two pure-Python
# packages it needs that the device image lacks (namex, optree) as
# Python 3.12 wheels into .whl/ (ignored), and prints what would travel.
# `restore` moves the files back (`git checkout -- weights benchmarks/results`
# does too, from the last commit). The device returns the GPU records as
# claims_gpu.tar.gz: `tar xzf <files_at>/claims_gpu.tar.gz -C benchmarks/results`
# (a resumed ledger: the records of earlier GPU calls are there too), commit.
set -euo pipefail
cd "$(dirname "$0")/.."
aside="../gpu_aside"
data_dir="${KERAS_VAES_DATA:-../shared/data}"
case "${1:-}" in
prepare)
    mkdir -p "$aside/weights" gpu_data .whl
    find weights -maxdepth 1 -name '*.weights.h5' -size +5M -exec mv {} "$aside/weights/" \;
    if [ -d benchmarks/results/claims_samples ]; then
        mv benchmarks/results/claims_samples "$aside/claims_samples"
    fi
    for name in mnist fashion_mnist; do
        cp "$data_dir/$name.npz" gpu_data/
    done
    keras_version="$(python3 -c 'import keras; print(keras.__version__)')"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "keras==$keras_version" namex optree
    python3 - <<'EOF'
import os, subprocess
tracked = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout.split(b"\0")
size = sum(os.path.getsize(p) for p in tracked if p and os.path.exists(p))
carried = sum(os.path.getsize(os.path.join(d, f)) for d in ("gpu_data", ".whl") for f in os.listdir(d))
total = (size + carried) / 2**20
print(f"would travel: {size / 2**20:.1f} MiB tracked + {carried / 2**20:.1f} MiB carried = {total:.1f} MiB "
      f"(limit 64)")
raise SystemExit(0 if total < 64 else 1)
EOF
    ;;
restore)
    if [ -d "$aside/weights" ]; then
        mv "$aside"/weights/*.weights.h5 weights/ 2>/dev/null || true
    fi
    if [ -d "$aside/claims_samples" ] && [ ! -e benchmarks/results/claims_samples ]; then
        mv "$aside/claims_samples" benchmarks/results/claims_samples
    fi
    git status --short weights benchmarks/results | head
    ;;
*)
    echo "usage: bash benchmarks/gpu_session.sh prepare|restore (received: '${1:-}')" >&2
    exit 2
    ;;
esac
