#!/usr/bin/env python3
"""The CUDA machine of ``scripts/gpu_check.sh``: what its image holds, what travels, what comes back.

The machine is bare on each start and has no network: Python 3.12 and the packages named in
:data:`IMAGE_NAMES`, among them JAX with its CUDA 13 plugin, but no PyTensor. What dlpy35 needs beyond
them travels as wheels in ``.whl/``, with MNIST (:data:`CARRY`); what the check writes under ``$OUT``
comes back within :data:`OUT_LIMITS`. This module is the one place that says so:
``gpu_check.sh --prepare`` downloads :func:`missing`, ``gpu_check.sh`` checks ``$OUT`` with
:func:`out_problems`, and ``scripts/gpu_rehearsal.sh`` builds its stand-in venv from
:data:`REHEARSAL` and refuses one holding a package the image lacks (:func:`foreign`).

Usage::

    python scripts/gpu_image.py --wheels        # NAME==VERSION per line: what .whl/ must hold
    python scripts/gpu_image.py --rehearsal     # NAME==VERSION per line: the rehearsal venv's packages
    python scripts/gpu_image.py --carry         # the paths each device call carries, one per line
    python scripts/gpu_image.py --foreign       # this interpreter's packages the image lacks (exit 1 if any)
    python scripts/gpu_image.py --check-out DIR # what under DIR would not come back (exit 1 if anything)
    python scripts/gpu_image.py --versions cuda # the versions that matter here; exit 1 if JAX sees no GPU
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The image 'cuda' of the nvidia-h200 machines, as the workplace's device notes (KINDS.md) list it
# (read there on 2026-11-17). Names are normalised (lower case, '-' for '_' and '.').
IMAGE_NAMES = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings
cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils
execnet filelock flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet
httpcore httpx huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax
jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning
lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib
mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc
nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver
nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13
nvidia-nvtx onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx
optimistix orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker
prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing
pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout
pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools
shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton
typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash
yarl zipp
""".split()) | {"tzdata"}  # not in the notes' list, but pandas, which is, requires it

# The rehearsal's stand-in for the image: the packages the check uses, at the image's versions where the
# device notes give them (jax, jaxlib, numpy), else at the project venv's (pip freeze of .venv).
# jax[cpu] stands in for jax[cuda13]: the same jax and jaxlib, without the CUDA plugin.
REHEARSAL = ("jax[cpu]==0.11.2", "jaxlib==0.11.2", "numpy==2.5.2", "scipy==1.18.1", "numba==0.68.0",
             "filelock==4.3.2", "setuptools==84.2.1", "tqdm==4.70.1", "pillow==13.0.0", "pytest==9.2.0",
             "hypothesis==6.170.27", "matplotlib==3.11.2")

# The ignored paths each device call carries beside the tracked files: the wheels and MNIST's four
# files, named one by one (data/mnist also holds the 198 MB expanded set, far over the 64 MiB a call
# may carry; --long builds it there).
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz")
CARRY = (".whl", *(f"data/mnist/{name}" for name in MNIST_FILES))

# What comes back from $OUT (the device notes' limits): this many files at most, each at most this
# large, at most this many folders down, named in these characters.
OUT_LIMITS = {"files": 8, "bytes": 16 * 2**20, "folders": 2, "name": r"[A-Za-z0-9._-]+"}


def normalise(name: str) -> str:
    """A distribution's name as PEP 503 compares names: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str | None:
    """The distribution a requirement line names, or None for one that holds only under an extra.

    Other markers (a platform, a Python version) are taken to hold: at worst a wheel too many travels,
    never one too few."""
    if re.search(r"""\bextra\s*==""", requirement):
        return None
    return normalise(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1))


def install_requires(setup_cfg: Path = ROOT / "setup.cfg") -> list[str]:
    """The names of dlpy35's own requirements (setup.cfg's ``install_requires``)."""
    parser = configparser.ConfigParser()
    parser.read(setup_cfg, encoding="utf-8")
    lines = parser["options"]["install_requires"].strip().splitlines()
    return [requirement_name(line) for line in lines if line.strip()]


def missing(roots=None, requires=None, image=IMAGE_NAMES) -> dict[str, str]:
    """Every distribution that `roots` need, directly or through each other, that `image` lacks.

    Parameters
    ----------
    roots : iterable of str, optional
        Distribution names to start from (default: dlpy35's ``install_requires``).
    requires : callable, optional
        ``requires(name) -> list of requirement lines`` (default: the installed distribution's
        ``Requires-Dist``, read with :mod:`importlib.metadata`).
    image : set of str
        Normalised names the image holds; a package there is not walked into (its own needs are the
        image's business).

    Returns
    -------
    dict
        ``{name: installed version}`` of the missing distributions, by name.
    """
    requires = requires or (lambda name: metadata.requires(name) or [])
    todo = list(install_requires() if roots is None else roots)
    found: dict[str, str] = {}
    while todo:
        name = normalise(todo.pop())
        if name in image or name in found:
            continue
        found[name] = metadata.version(name)
        todo.extend(n for n in map(requirement_name, requires(name)) if n)
    return dict(sorted(found.items()))


def foreign(image=IMAGE_NAMES) -> list[str]:
    """The distributions installed in this interpreter that `image` does not hold, by name."""
    names = {normalise(d.metadata["Name"]) for d in metadata.distributions()}
    return sorted(names - image)


def out_problems(out: Path, limits=OUT_LIMITS) -> list[str]:
    """Why each thing under `out` would not come back from the device (empty: everything would)."""
    problems = []
    files = sorted(p for p in Path(out).rglob("*") if p.is_symlink() or not p.is_dir())
    if len(files) > limits["files"]:
        problems.append(f"{len(files)} files, over the {limits['files']} that come back")
    for path in files:
        relative = path.relative_to(out)
        if path.is_symlink() or not path.is_file():
            problems.append(f"{relative}: not a plain file")
        elif path.stat().st_size > limits["bytes"]:
            problems.append(f"{relative}: {path.stat().st_size:,} bytes, over {limits['bytes']:,}")
        if len(relative.parts) - 1 > limits["folders"]:
            problems.append(f"{relative}: more than {limits['folders']} folders down")
        if not all(re.fullmatch(limits["name"], part) for part in relative.parts):
            problems.append(f"{relative}: a name with characters other than letters, digits, '.', '_', '-'")
    return problems


def versions(device: str) -> int:
    """Print the interpreter's and the packages' versions and JAX's devices; 1 (and why on stderr) when
    `device` is ``cuda`` and JAX sees no GPU, so that no GPU minute goes to a run on the CPU."""
    import jax
    import numba
    import numpy
    import pytensor
    import scipy

    print(" | ".join([f"python {sys.version.split()[0]}", f"jax {jax.__version__} {jax.devices()}",
                      *(f"{m.__name__} {m.__version__}" for m in (pytensor, numpy, scipy, numba))]))
    if device == "cuda" and jax.default_backend() != "gpu":
        print("gpu_check: JAX sees no CUDA device; on a CPU run with GPU_CHECK_DEVICE=cpu", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--wheels", action="store_true",
                       help="the distributions to carry as wheels, pinned to this venv's versions")
    which.add_argument("--rehearsal", action="store_true", help="the rehearsal venv's packages")
    which.add_argument("--carry", action="store_true", help="the paths each device call carries")
    which.add_argument("--foreign", action="store_true",
                       help="this interpreter's distributions that the image lacks (exit 1 if any)")
    which.add_argument("--check-out", metavar="DIR", type=Path,
                       help="what under DIR would not come back from the device (exit 1 if anything)")
    which.add_argument("--versions", metavar="DEVICE", choices=("cuda", "cpu"),
                       help="the versions that matter, and JAX's devices; exit 1 for cuda without a GPU")
    args = p.parse_args(argv)
    if args.versions:
        return versions(args.versions)
    if args.wheels:
        lines = [f"{n}=={v}" for n, v in missing().items()]
    else:
        lines = (REHEARSAL if args.rehearsal else CARRY if args.carry else
                 foreign() if args.foreign else out_problems(args.check_out))
    print("\n".join(lines))
    return 1 if lines and (args.foreign or args.check_out) else 0


if __name__ == "__main__":
    sys.exit(main())
