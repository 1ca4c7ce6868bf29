#!/usr/bin/env bash
# The claims ledger's GPU profile: the papers' widths, on a machine with a GPU.
#
#   bash benchmarks/claims_gpu.sh [MINUTES]
#
# Reads MNIST / Fashion-MNIST from gpu_data/ (an ignored folder: copy
# mnist.npz and fashion_mnist.npz there and carry it), trains the ledger's
# runs with `--profile gpu` until MINUTES (default 8) have passed (the run
# in progress finishes), and writes the records, calibration and images
# to benchmarks/results/claims_gpu (and, on the device, all of it as
# $OUT/claims_gpu.tar.gz).
# Every record carries the device, the library versions and images/s.
#
# Keras and its pure-Python dependencies may be carried as wheels in .whl/
# (a machine without TensorFlow then runs on JAX, or PyTorch).
# `bash benchmarks/gpu_session.sh prepare` readies both folders and gets
# the checkout under the device's 64 MiB transfer limit; `restore` after.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-8}"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
if [ -z "${KERAS_BACKEND:-}" ]; then
    if python3 -c "import tensorflow" 2>/dev/null; then export KERAS_BACKEND=tensorflow
    elif python3 -c "import jax" 2>/dev/null; then export KERAS_BACKEND=jax
    else export KERAS_BACKEND=torch; fi
fi
for name in mnist fashion_mnist; do
    if [ ! -f "gpu_data/$name.npz" ]; then
        echo "gpu_data/$name.npz is missing: copy the Keras-layout $name.npz there and carry gpu_data." >&2
        exit 2
    fi
done
# The device returns at most 8 files from $OUT: the records stay in a work
# folder and travel back as one archive, $OUT/claims_gpu.tar.gz.
output="benchmarks/results/claims_gpu"
mkdir -p "$output"
echo "backend $KERAS_BACKEND; $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
python3 benchmarks/claims.py --profile gpu --data-dir gpu_data --output "$output" --minutes "$minutes" \
    --claims C1,C3,C4,C2 2>&1 | grep -v -E "^(WARNING|I0000|W0000)" | tee "$output/log.txt"
if [ -n "${OUT:-}" ]; then
    tar czf "$OUT/claims_gpu.tar.gz" -C benchmarks/results claims_gpu
    cp "$output/log.txt" "$OUT/log.txt"
    echo "wrote $OUT/claims_gpu.tar.gz ($(du -h "$OUT/claims_gpu.tar.gz" | cut -f1)): untar it in benchmarks/results"
fi
