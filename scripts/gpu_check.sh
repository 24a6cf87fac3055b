#!/usr/bin/env bash
# A prepared check for a CUDA machine with no network (the device image: Python 3.12, JAX with CUDA,
# numba/scipy/numpy/pytest, no PyTensor). Run from the repository root; finishes within 5 minutes.
#
# Prepare here, where pip reaches the package index (wheels and MNIST travel with the checkout):
#     scripts/gpu_check.sh --prepare
# Then on the CUDA machine (carry .whl and data/mnist):
#     bash scripts/gpu_check.sh            # under 5 minutes
#     bash scripts/gpu_check.sh --long     # then the book's chapter-6 rows (dlpy35 reproduce), in full
#     bash scripts/gpu_check.sh --population   # then populations up to K = 4096, the five-net ensemble
# Output: the device, the GPU-marked tests, a short train_gpu.py --device cuda run (seconds per
# epoch, accuracy), two conv epochs; everything is also written to $OUT/gpu_check.log when $OUT
# is set, and the conv histories to $OUT/*.json.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--prepare" ]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "pytensor==3.3.7" "tqdm>=4.66" || exit 1   # tqdm: the training commands' progress bar
    "${PYTHON:-.venv/bin/python}" -m dlpy35.data || exit 1   # MNIST into data/mnist (the venv of the README)
    ls -la .whl data/mnist
    exit 0
fi

log=${OUT:-/tmp}/gpu_check.log
exec > >(tee "$log") 2>&1
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu_check: installing the carried wheels failed"; exit 1; }
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import jax, pytensor; print('jax', jax.__version__, jax.devices(), '| pytensor', pytensor.__version__)" || exit 1

echo "== GPU-marked tests and the residency tests"
timeout 120 python3 -m pytest -q -p no:cacheprovider -m "gpu or not slow" tests/test_device.py tests/test_network3.py
status=$?

echo "== train_gpu.py --device cuda (5 epochs, the book's settings)"
timeout 150 python3 scripts/train_gpu.py --device cuda --epochs 5 --no-progress || status=1

out=${OUT:-/tmp}
if [ "${1:-}" = "--long" ]; then
    echo "== chapter 6 on the GPU: the book's rows in full (dlpy35 reproduce; results in \$OUT/reproduce)"
    # Rows already in $OUT/reproduce/results.json (carried back from an earlier call) are kept, not rerun.
    python3 scripts/expand_mnist.py || status=1
    timeout "${LONG_SECONDS:-540}" python3 -m dlpy35 reproduce ch6-fc ch6-conv1 ch6-conv2 ch6-conv2-relu \
        ch6-expanded ch6-extra-fc ch6-dropout ch6-vote --device cuda --out "$out/reproduce" || status=1
else
    echo "== train_conv.py --device cuda (conv2-relu, 2 epochs: seconds per epoch on the GPU)"
    timeout 90 python3 scripts/train_conv.py --net conv2-relu --epochs 2 --device cuda \
        --history "$out/conv2relu_cuda_2ep.json" || status=1
fi

if [ "${1:-}" = "--population" ]; then
    echo "== populations on the GPU: net-epochs per second up to K = 4096; chapter 6's five-net ensemble"
    timeout 420 python3 scripts/bench.py --population --device cuda --ks 1 16 256 1024 4096 --epochs 1 \
        --no-vmap --json "$out/bench_population_cuda.json" || status=1
    timeout 300 python3 scripts/train_conv.py --net conv2-relu --ensemble 5 --epochs 10 --device cuda \
        --history "$out/ensemble5_cuda.json" || status=1
fi

echo "== gpu_check: $([ $status -eq 0 ] && echo ok || echo FAILED)"
exit $status
