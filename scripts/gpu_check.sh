#!/usr/bin/env bash
# A prepared check for the CUDA machine (one H200, 16 cores, bare on each start, no network; its image has
# Python 3.12, JAX with CUDA 13, numpy/scipy/numba/pytest..., no PyTensor: scripts/gpu_image.py lists it).
# Run from the repository root. Every mode ends within its budget (GPU_CHECK_SECONDS) and writes its log
# and results under $OUT (at most 8 files there, each named below).
#
# Here, where pip reaches the index (the wheels the image lacks, at .venv's versions, and MNIST):
#     scripts/gpu_check.sh --prepare
# Rehearsed here on the CPU, in a venv laid out as the image, from a copy of what travels:
#     scripts/gpu_rehearsal.sh [--population] [--long]
# On the CUDA machine, two calls (15 device-minutes in all, each start ~1-2 min included):
#     bash scripts/gpu_check.sh --population  # call 1 (budget 330 s): the device, the GPU-marked tests,
#                                             # 5 epochs of train_gpu.py, 2 of conv2-relu (s/epoch),
#                                             # populations K = 1..4096
#     bash scripts/gpu_check.sh --long        # call 2 (budget 250 s): the chapter-6 rows in full (dlpy35
#                                             # reproduce), cheapest first, as many as the budget allows
#     bash scripts/gpu_check.sh               # the check alone (call 1 without the populations)
# The `run` tool's arguments, ready to paste (README, "On a CUDA machine" has the reasons):
#   call 1: command "bash scripts/gpu_check.sh --population", timeout_s 360
#   call 2: command "bash scripts/gpu_check.sh --long", timeout_s 280, right after call 1 (the machine stays
#           warm 30 s: no second start; the wheels installed and runs/ kept)
#   both:   carry [".whl", "data/mnist/train-images-idx3-ubyte.gz", "data/mnist/train-labels-idx1-ubyte.gz",
#                  "data/mnist/t10k-images-idx3-ubyte.gz", "data/mnist/t10k-labels-idx1-ubyte.gz"]
# $OUT after call 1: gpu_check.log, conv2relu.json, bench_population.json; after call 2: gpu_check.log,
# reproduce.tar.gz (runs/reproduce: results.md and .json, every row's args, epochs.csv and history, also of
# a row cut off by the budget; no networks or pictures).
#
# Settings (environment): GPU_CHECK_DEVICE (default cuda; the rehearsal's cpu is the one stand-in for CUDA:
# the same commands run with --device cpu), GPU_CHECK_QUICK=1 (rehearsal sizes: an epoch on a slice),
# GPU_CHECK_SECONDS (the budget), GPU_CHECK_SITE (where the wheels go; default /tmp/site),
# LONG_ROWS (the rows of --long; default the eight chapter-6 rows), LONG_EPOCHS (partial rows of N epochs).
set -uo pipefail
cd "$(dirname "$0")/.."

mode=${1:-check}
case $mode in
    check | --population | --long | --prepare) ;;
    *) echo "gpu_check.sh: unknown mode '$mode'; give --prepare, --population, --long or nothing" >&2
       exit 2 ;;
esac

if [ "$mode" = "--prepare" ]; then
    python=${PYTHON:-.venv/bin/python}
    wheels=$("$python" scripts/gpu_image.py --wheels) || exit 1
    # Into a fresh folder, then in place of the old wheels: two versions of one package stop the install.
    new=$(mktemp -d) || exit 1
    # shellcheck disable=SC2086  # one requirement per word
    "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$new" $wheels || { rm -rf "$new"; exit 1; }
    rm -rf .whl && mv "$new" .whl || exit 1
    "$python" -m dlpy35.data || exit 1   # MNIST into data/mnist
    "$python" scripts/gpu_image.py --carry | xargs du -shL
    # What a call sends: the files git does not ignore, and the carried paths; at most 64 MiB.
    bytes=$( (git ls-files -co --exclude-standard; "$python" scripts/gpu_image.py --carry) | xargs du -cbL \
        | tail -1 | cut -f1)
    echo "a call sends $((bytes / 1024 / 1024)) MiB (at most 64)"
    [ "$bytes" -le $((64 * 1024 * 1024)) ] || exit 1
    exit 0
fi

device=${GPU_CHECK_DEVICE:-cuda}
quick=${GPU_CHECK_QUICK:-}
site=${GPU_CHECK_SITE:-/tmp/site}
out=${OUT:-/tmp/gpu_check}
case $mode in  # seconds from bash's start; the README's calls allow 30 more (the tool's start of the command)
    --long) budget=${GPU_CHECK_SECONDS:-250} ;;
    *) budget=${GPU_CHECK_SECONDS:-330} ;;
esac
deadline=$((SECONDS + budget))
mkdir -p "$out" || exit 1
exec > >(tee "$out/gpu_check.log") 2>&1
tee_pid=$!
export PYTHONUNBUFFERED=1
status=0
steps=()

# step NAME CAP COMMAND...: run COMMAND for at most CAP seconds, and never past the budget's deadline
# (15 s are kept for the summary); its status and seconds go to the summary, and any status but 0 fails
# the check, except a stop at CAP under stop_ok=1 (the chapter-6 rows: as many as fit).
# GPU_CHECK_DRY=1 prints each command instead (tests/test_scripts_gpu_check.py reads them).
step() {
    local name=$1 cap=$2 left=$((deadline - SECONDS - 15)) start=$SECONDS rc
    shift 2
    if [ -n "${GPU_CHECK_DRY:-}" ]; then
        printf '%q ' "$@" && echo
        return 0
    fi
    [ "$cap" -gt "$left" ] && cap=$left
    if [ "$cap" -lt 10 ]; then
        echo "== $name: skipped, the budget (GPU_CHECK_SECONDS=$budget) is spent"
        steps+=("$name: skipped") && status=1 && return 1
    fi
    echo "== $name (at most $cap s)"
    timeout "$cap" "$@"
    rc=$?
    [ $rc -eq 124 ] && echo "== $name: stopped at $cap s"
    steps+=("$name: exit $rc, $((SECONDS - start)) s")
    [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ -n "${stop_ok:-}" ]; } || status=1
    return $rc
}

finish() {
    echo "== what comes back"
    python3 scripts/gpu_image.py --check-out "$out" || { echo "(those would not come back)"; status=1; }
    ls -la "$out"
    echo "== summary ($mode, device $device${quick:+, quick sizes}, $SECONDS s of $budget)"
    printf '  %s\n' "${steps[@]}"
    echo "== gpu_check: $([ $status -eq 0 ] && echo ok || echo FAILED)"
    exec >&- 2>&-
    wait "$tee_pid"
    exit $status
}

# The wheels the image lacks (pytensor, platformdirs), installed as the device notes say; dlpy35 from here.
if compgen -G ".whl/*.whl" >/dev/null; then
    step "install .whl" 60 python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target "$site" .whl/*.whl || finish
    export PYTHONPATH=$site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
    || echo "no nvidia-smi"
step "jax and pytensor" 60 python3 scripts/gpu_image.py --versions "$device" || finish

if [ "$mode" = "--long" ]; then
    all="ch6-fc ch6-conv1 ch6-conv2 ch6-conv2-relu ch6-expanded ch6-extra-fc ch6-dropout ch6-vote"
    rows=${LONG_ROWS:-$all}
    size=()
    [ -n "${LONG_EPOCHS:-}" ] && size=(--epochs "$LONG_EPOCHS")
    [ -n "$quick" ] && size=(--quick)
    # The runs stay in runs/reproduce (a warm machine's next --long call skips the rows done there);
    # the table and the rows' small files come back.
    step "expand_mnist.py" 120 python3 scripts/expand_mnist.py
    # Stopped 15 s before the 15 kept for the summary: time for the runs to come back.
    # shellcheck disable=SC2086  # one row per word
    stop_ok=1 step "dlpy35 reproduce $rows ${size[*]}" $((deadline - SECONDS - 30)) \
        python3 -m dlpy35 reproduce $rows "${size[@]}" --device "$device" --out runs/reproduce
    step "runs/reproduce to \$OUT" 15 tar -czf "$out/reproduce.tar.gz" --exclude='*.npz' --exclude='*.png' \
        runs/reproduce
    step "the results table" 10 cat runs/reproduce/results.md
    finish
fi

train=(--epochs 5)
conv=(--epochs 2)
population=(--ks 1 16 256 1024 4096 --epochs 1)
if [ -n "$quick" ]; then
    train=(--epochs 1 --n-train 1000)
    conv=(--epochs 1 --n-train 1000)
    population=(--ks 1 4 --epochs 1 --n-train 1000)
fi
step "the device tests (GPU-marked, residency)" 60 \
    python3 -m pytest -q -p no:cacheprovider -m "gpu or not slow" tests/test_device.py \
     tests/test_network3.py::test_sgd_copies_nothing_implicitly
step "train_gpu.py ${train[*]} (the book's chapter-1 net)" 60 \
    python3 scripts/train_gpu.py --device "$device" "${train[@]}" --no-progress
step "train_conv.py conv2-relu ${conv[*]} (seconds per epoch)" 90 \
    python3 scripts/train_conv.py --net conv2-relu "${conv[@]}" --device "$device" --no-progress \
    --history "$out/conv2relu.json"
if [ "$mode" = "--population" ]; then
    step "bench.py --population ${population[*]} (net-epochs per second)" 9999 \
        python3 scripts/bench.py --population "${population[@]}" --device "$device" --no-vmap \
        --json "$out/bench_population.json"
fi
finish
