#!/usr/bin/env bash
# scripts/gpu_check.sh rehearsed on the CPU, so that the first GPU minutes go to the GPU, not to a missing
# package or a wrong path. Run from the repository root, after scripts/gpu_check.sh --prepare:
#     scripts/gpu_rehearsal.sh [--population] [--long] [check]   # each mode given, in turn (default: check)
# It builds (once) a venv laid out as the device image: Python 3.12 with only the image's packages
# (scripts/gpu_image.py --rehearsal: jax[cpu] standing in for jax[cuda13]), and refuses one that holds a
# package the image lacks. For each mode it copies what travels to the device -- the tracked and untracked,
# not ignored files, and the carried paths (gpu_image.py --carry) -- into a fresh folder, and runs
# gpu_check.sh there as the device would: a clean environment whose python3 is the venv's, pip with no index,
# a fresh HOME (no compile caches), $OUT an empty folder. GPU_CHECK_DEVICE=cpu is the one stand-in for CUDA
# (every command gets --device cpu) and GPU_CHECK_QUICK=1 shrinks the runs to an epoch on a slice.
# Folders under REHEARSAL_DIR (default /tmp/gpu-rehearsal): venv/, and per mode tree-MODE/, out-MODE/
# (what would come back), home-MODE/. The venv is downloaded once (pip reaches the index then); delete
# REHEARSAL_DIR/venv to build it again.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${REHEARSAL_DIR:-/tmp/gpu-rehearsal}
python=${PYTHON:-.venv/bin/python}
modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(check)

if ! compgen -G ".whl/*.whl" >/dev/null; then
    echo "gpu_rehearsal.sh: no wheels in .whl/; run scripts/gpu_check.sh --prepare first" >&2
    exit 2
fi
mkdir -p "$dir" || exit 1
venv=$dir/venv
if [ ! -x "$venv/bin/python3" ]; then
    echo "== building $venv (python3.12, the image's packages)"
    # shellcheck disable=SC2046  # one requirement per word
    PYENV_VERSION=3.12.1 python3.12 -m venv "$venv" \
        && "$venv/bin/python3" -m pip install -q $("$python" scripts/gpu_image.py --rehearsal) \
        || { rm -rf "$venv"; exit 1; }
fi
"$venv/bin/python3" scripts/gpu_image.py --foreign >/dev/null \
    || { echo "gpu_rehearsal.sh: $venv holds packages the image lacks:" \
              "$("$venv/bin/python3" scripts/gpu_image.py --foreign | tr '\n' ' ')" >&2; exit 1; }

status=0
for mode in "${modes[@]}"; do
    name=${mode#--}
    tree=$dir/tree-$name out=$dir/out-$name home=$dir/home-$name
    rm -rf "$tree" "$out" "$home" && mkdir -p "$tree" "$out" "$home" || exit 1
    # What travels: the files git would not ignore, then each carried path (links followed, as a path
    # through a link travels).
    git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t "$tree" 2>/dev/null
    "$python" scripts/gpu_image.py --carry | xargs cp -rL --parents -t "$tree" || exit 1
    echo "== rehearsal of gpu_check.sh ${mode/check/} in $tree: $(du -sm "$tree" | cut -f1) MiB travel"
    arg=$mode
    [ "$mode" = check ] && arg=
    start=$SECONDS
    (cd "$tree" && env -i PATH="$venv/bin:/usr/bin:/bin" HOME="$home" LANG=C.UTF-8 OUT="$out" \
        PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null GPU_CHECK_DEVICE=cpu GPU_CHECK_QUICK=1 \
        GPU_CHECK_SITE="$dir/site-$name" GPU_CHECK_SECONDS="${GPU_CHECK_SECONDS:-1200}" \
        bash scripts/gpu_check.sh $arg)
    rc=$?
    echo "== rehearsal of gpu_check.sh ${mode/check/}: exit $rc in $((SECONDS - start)) s; back from \$OUT:"
    ls -la "$out"
    [ $rc -eq 0 ] || status=1
done
exit $status
