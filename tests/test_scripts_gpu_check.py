"""``scripts/gpu_check.sh`` and ``scripts/gpu_image.py``: what can be checked without the CUDA machine.

The scripts parse; the wheels ``--prepare`` fetches are what dlpy35 and PyTensor need beyond the image;
every command the check runs accepts its flags, on CUDA and in the rehearsal's CPU stand-in; every file
it leaves in ``$OUT`` comes back from the device; the README's ready-to-paste calls carry what the
scripts say and fit the device time. The rehearsal itself (``scripts/gpu_rehearsal.sh``) downloads a
venv and trains: it is run by hand, not here.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from dlpy35.cli.main import command_parser

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
CHECK = SCRIPTS / "gpu_check.sh"
MODES = ("", "--population", "--long")
# The device's limits (the device notes): one command, a session's device time, a start (at most).
COMMAND_S, SESSION_S, START_S = 600, 900, 120

_spec = importlib.util.spec_from_file_location("gpu_image", SCRIPTS / "gpu_image.py")
gpu_image = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_image)


def dry_run(mode, tmp_path, **env):
    """The commands ``gpu_check.sh MODE`` would run (GPU_CHECK_DRY=1), each as a list of words."""
    out = tmp_path / f"out{mode}"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # python3: this interpreter
    proc = subprocess.run(["bash", str(CHECK), *filter(None, [mode])], capture_output=True, text=True,
                          timeout=60, check=False, cwd=ROOT,
                          env={**os.environ, "PATH": path, "OUT": str(out), "GPU_CHECK_DRY": "1", **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "== gpu_check: ok" in proc.stdout
    lines = proc.stdout.splitlines()
    return [shlex.split(line) for line in lines if line.startswith(("python3 ", "tar ", "cat "))]


@pytest.mark.parametrize("script", ["gpu_check.sh", "gpu_rehearsal.sh"])
def test_the_scripts_parse(script):
    proc = subprocess.run(["bash", "-n", str(SCRIPTS / script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_an_unknown_mode_is_one_line_and_status_2():
    proc = subprocess.run(["bash", str(CHECK), "--lon"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "gpu_check.sh: unknown mode '--lon'; give --prepare, --population, --long or nothing"]


def needs(name):
    """The distributions `name` requires outside its extras, read with packaging (not gpu_image's parser)."""
    found = set()
    for line in metadata.requires(name) or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            found.add(gpu_image.normalise(req.name))
    return found


def test_the_wheels_are_what_dlpy35_and_pytensor_need_beyond_the_image():
    wheels = gpu_image.missing()
    assert wheels == {name: metadata.version(name) for name in ("platformdirs", "pytensor")}
    dlpy35 = {gpu_image.normalise(Requirement(r).name) for r in metadata.requires("dlpy35")
              if "extra" not in r}
    for name in (*dlpy35, *wheels):
        assert needs(name) <= gpu_image.IMAGE_NAMES | set(wheels), name
    assert "jax" in dlpy35 and {"numba", "scipy", "filelock", "setuptools"} <= needs("pytensor")


def test_missing_walks_into_what_the_image_lacks_and_nothing_else():
    requires = {"pytest": ["pluggy>=1.5", "iniconfig", 'colorama; extra == "windows"'],
                "pluggy": ["iniconfig"], "iniconfig": ["packaging"]}.__getitem__
    image = {"iniconfig", "packaging"}
    assert gpu_image.missing(["pytest"], requires, image) == {
        "pluggy": metadata.version("pluggy"), "pytest": metadata.version("pytest")}
    assert gpu_image.missing(["PyTest"], requires, image | {"pytest"}) == {}


def test_the_rehearsal_installs_only_packages_of_the_image():
    names = {gpu_image.normalise(re.match(r"[\w.-]+", r).group()) for r in gpu_image.REHEARSAL}
    assert names <= gpu_image.IMAGE_NAMES
    assert {"jax", "jaxlib", "numpy", "scipy", "numba", "pytest"} <= names


def place(tmp_path, files):
    """A folder holding `files` (relative path -> size in bytes); its path."""
    out = tmp_path / "out"
    for name, size in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        with open(out / name, "wb") as f:
            f.truncate(size)
    out.mkdir(exist_ok=True)
    return out


@pytest.mark.parametrize(("files", "problems"), [
    ({f"a/b/f{i}.json": 1 for i in range(8)}, []),
    ({"log": 16 * 2**20}, []),
    ({f"f{i}": 1 for i in range(9)}, ["9 files, over the 8 that come back"]),
    ({"a/b/c/f": 1}, ["a/b/c/f: more than 2 folders down"]),
    ({"log": 16 * 2**20 + 1}, ["log: 16,777,217 bytes, over 16,777,216"]),
    ({"a b.txt": 1}, ["a b.txt: a name with characters other than letters, digits, '.', '_', '-'"]),
])
def test_out_problems_name_what_would_not_come_back(tmp_path, files, problems):
    assert gpu_image.out_problems(place(tmp_path, files)) == problems


def test_a_link_in_out_would_not_come_back(tmp_path):
    out = place(tmp_path, {"real": 1})
    (out / "link").symlink_to(out / "real")
    assert gpu_image.out_problems(out) == ["link: not a plain file"]


def written(commands, out):
    """The files under `out` that `commands` name, relative to it, with the log."""
    return {"gpu_check.log"} | {str(Path(w).relative_to(out)) for c in commands for w in c
                                if w.startswith(str(out))}


@pytest.mark.parametrize("mode", MODES)
def test_every_file_the_check_leaves_in_out_comes_back(tmp_path, mode):
    names = written(dry_run(mode, tmp_path), tmp_path / f"out{mode}")
    assert gpu_image.out_problems(place(tmp_path, dict.fromkeys(names, 1))) == []
    header = CHECK.read_text().split("set -uo")[0]
    assert all(name in header for name in names), names  # the header says what comes back


def parse(command):
    """Parse one command of the check with the parser of the script or subcommand it runs."""
    if command[:2] == ["python3", "scripts/bench.py"]:
        sys.path.insert(0, str(SCRIPTS))
        try:
            spec = importlib.util.spec_from_file_location("bench_entry", SCRIPTS / "bench.py")
            entry = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(entry)
            name, rest = entry.choose(command[2:])
            return importlib.import_module(f"bench.{name}").parser().parse_args(rest)
        finally:
            sys.path.remove(str(SCRIPTS))
    subcommand = {"scripts/train_gpu.py": "train", "scripts/train_conv.py": "train-conv"}.get(command[1])
    if command[1:4] == ["-m", "dlpy35", "reproduce"]:
        subcommand, command = "reproduce", command[2:]
    return command_parser(subcommand, "gpu_check").parse_args(command[2:])


@pytest.mark.parametrize(("env", "device"), [
    ({}, "cuda"),
    ({"GPU_CHECK_DEVICE": "cpu", "GPU_CHECK_QUICK": "1"}, "cpu"),  # the rehearsal's
])
def test_the_commands_accept_their_flags_and_the_device(tmp_path, env, device):
    seen = set()
    for mode in MODES:
        for command in dry_run(mode, tmp_path, **env):
            if command[:3] == ["python3", "-m", "pytest"]:
                for node in command[-2:]:
                    path, _, test = node.partition("::")
                    assert (ROOT / path).is_file() and f"def {test or 'test_'}" in (ROOT / path).read_text()
            elif command[1] in ("scripts/expand_mnist.py", "scripts/gpu_image.py"):
                assert command[2:] in ([], ["--versions", device]), command
                seen.add(command[1])
            elif command[0] == "python3" and "pip" not in command:
                args = parse(command)
                assert getattr(args, "device", device) == device, command
                seen.add(command[1] if command[1] != "-m" else command[3])
    assert seen == {"scripts/gpu_image.py", "scripts/train_gpu.py", "scripts/train_conv.py",
                    "scripts/bench.py", "scripts/expand_mnist.py", "reproduce"}


def test_the_readme_calls_carry_what_travels_and_fit_the_device_time():
    readme = (ROOT / "README.md").read_text()
    calls = [json.loads(line) for line in readme.splitlines() if line.startswith('{"command": "bash ')]
    script = CHECK.read_text()
    budgets = dict(re.findall(r"(\S+)\) budget=\$\{GPU_CHECK_SECONDS:-(\d+)\}", script))
    assert [c["command"].split()[1:] for c in calls] == [[CHECK.relative_to(ROOT).as_posix(), mode]
                                                        for mode in ("--population", "--long")]
    for call in calls:
        assert call["carry"] == list(gpu_image.CARRY)
        assert len(call["command"]) <= 2000
        budget = int(budgets.get(call["command"].split()[-1], budgets["*"]))
        assert budget + 20 <= call["timeout_s"] <= COMMAND_S  # the budget, then the install's slack
        assert f'"{call["command"]}", timeout_s {call["timeout_s"]}' in script  # as the header says
    assert sum(c["timeout_s"] for c in calls) + 2 * START_S <= SESSION_S
