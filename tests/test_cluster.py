"""Tests of dlpy35.studies.cluster: Ray addresses probed before Ray is asked, tasks run on a local cluster."""

from __future__ import annotations

import json
import socket
import sys
import time

import pytest

from dlpy35.storage import caches
from dlpy35.studies import cluster
from dlpy35.studies.sweep import train_chunk


@pytest.mark.parametrize("address, endpoint", [
    ("auto", None), ("local", None), ("10.0.0.1:6379", ("10.0.0.1", 6379)), ("head", ("head", 6379)),
    ("ray://head", ("head", 10001)), ("ray://head:10002/", ("head", 10002)), ("[::1]:7000", ("::1", 7000)),
    ("[::1]", ("::1", 6379)), ("ray://[fe80::1]/", ("fe80::1", 10001)), ("ray://nodeX/", ("nodeX", 10001)),
    ("Xhead:7000", ("Xhead", 7000)),
])
def test_a_ray_address_names_the_endpoint_that_is_probed(address, endpoint):
    assert cluster.ray_endpoint(address) == endpoint


def test_an_unreachable_ray_address_is_refused_within_the_probes_timeout(closed_port):
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"^ray_address='127\.0\.0\.1:\d+': no Ray cluster answers at "):
        cluster.check_ray_address(f"127.0.0.1:{closed_port}", timeout=2.0)
    assert time.monotonic() - start < 2.0


def test_what_ray_writes_while_connecting_is_dropped_if_it_fails_and_kept_if_it_connects(capfd):
    import os

    with pytest.raises(ConnectionError):
        with cluster._stderr_held_unless_it_fails():
            os.write(2, b"Failed to connect to GCS within 5 seconds\n")
            raise ConnectionError("no cluster")
    with cluster._stderr_held_unless_it_fails():
        os.write(2, b"a warning worth reading\n")
    assert capfd.readouterr().err == "a warning worth reading\n"


def test_each_task_s_result_is_handed_over_once_as_it_ends(local_ray):
    got = []
    cluster.run_tasks(json.loads, ["[1, 2]", "3", '"four"'], "auto", got.append)
    assert sorted(map(str, got)) == ["3", "[1, 2]", "four"]


def test_a_task_that_raises_raises_its_own_error_here_not_rays(local_ray):
    got = []
    with pytest.raises(json.JSONDecodeError, match="^Expecting value: line 1 column 1"):
        cluster.run_tasks(json.loads, ["not json"], "auto", got.append)
    assert got == []


@pytest.mark.parametrize("error, why", [
    (TimeoutError("timed out"), "no answer within 2.5 s"),
    (ConnectionRefusedError(111, "Connection refused"), "Connection refused"),
    (OSError("no route"), "OSError('no route')"),  # no strerror: the exception itself
])
def test_the_probe_of_a_ray_address_waits_its_timeout_and_says_why_it_failed(error, why, monkeypatch):
    asked = []

    def connect(endpoint, timeout=None):
        asked.append((endpoint, timeout))
        raise error

    monkeypatch.setattr(socket, "create_connection", connect)
    with pytest.raises(ValueError) as exc:
        cluster.check_ray_address("ray://head", timeout=2.5)
    assert asked == [(("head", 10001), 2.5)]
    assert str(exc.value) == (f"ray_address='ray://head': no Ray cluster answers at head:10001 ({why}); "
                              "start one with `ray start --head`, or give the head's address")


class FakeRay:
    """What :func:`dlpy35.studies.cluster.run_tasks` asks of Ray, scripted: a cluster of `gpus` GPUs whose
    tasks run `function` at once and finish in reverse order of submission; `answers` False refuses to
    connect."""

    def __init__(self, gpus=0, initialized=False, answers=True):
        self.gpus, self.initialized, self.answers = gpus, initialized, answers
        self.inits, self.options, self.waits, self.cancelled = [], [], [], []

    def is_initialized(self):
        return self.initialized

    def init(self, **kwargs):
        self.inits.append(kwargs)
        if not self.answers:
            raise ConnectionError("no GCS at that address")
        self.initialized = True

    def cluster_resources(self):
        return {"CPU": 4.0, **({"GPU": float(self.gpus)} if self.gpus else {})}

    def remote(self, **options):
        self.options.append(options)

        def wrap(function):
            class Task:
                @staticmethod
                def remote(*args):
                    return ("ref", function, args)
            return Task
        return wrap

    def wait(self, pending, num_returns):
        self.waits.append((len(pending), num_returns))
        return pending[-num_returns:], pending[:-num_returns]

    def get(self, ref):
        _, on_worker, (function, chunk) = ref
        return {"ran": f"{on_worker.__name__}({function.__name__})", "chunk": chunk}

    def cancel(self, ref, force=False):
        self.cancelled.append((ref, force))


@pytest.mark.parametrize("gpus, num_gpus", [(0, 0), (2, 1)])
def test_each_item_is_one_ray_task_with_a_gpu_where_the_cluster_has_one(gpus, num_gpus, monkeypatch):
    ray = FakeRay(gpus, initialized=True)
    monkeypatch.setitem(sys.modules, "ray", ray)
    finished = []
    cluster.run_tasks(train_chunk, ["c0", "c1", "c2"], "auto", finished.append)
    assert ray.options == [{"num_gpus": num_gpus, "max_retries": 3}] and ray.inits == []
    assert finished == [{"ran": "_task(train_chunk)", "chunk": c} for c in ("c2", "c1", "c0")]  # as each ends
    assert ray.waits == [(3, 1), (2, 1), (1, 1)]


def test_ray_is_started_at_the_address_given_with_its_logs_held_back(monkeypatch):
    ray = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", ray)
    probed = []
    monkeypatch.setattr(cluster, "check_ray_address", probed.append)
    cluster.run_tasks(train_chunk, [], "10.0.0.1:6379", None)
    assert probed == ["10.0.0.1:6379"]
    warning = 30  # logging.WARNING
    assert ray.inits == [{"address": "10.0.0.1:6379", "log_to_driver": False, "logging_level": warning}]


def test_a_ray_cluster_that_refuses_to_connect_is_one_valueerror(monkeypatch, capfd):
    ray = FakeRay(answers=False)
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.setattr(cluster, "check_ray_address", lambda address: None)
    with pytest.raises(ValueError) as exc:
        cluster.run_tasks(train_chunk, ["c0"], "auto", None)
    assert str(exc.value) == ("ray_address='auto': no Ray cluster answers (no GCS at that address); start "
                              "one with `ray start --head`, or give the head's address")
    assert exc.value.__cause__ is None and exc.value.__suppress_context__
    assert ray.options == [] and capfd.readouterr().err == ""


def test_work_on_ray_without_ray_installed_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ValueError, match=r"^ray_address='auto' needs Ray: pip install 'dlpy35\[cluster\]'$"):
        cluster.run_tasks(train_chunk, ["c0"], "auto", None)


def test_when_this_process_stops_the_tasks_not_finished_are_cancelled_at_once(monkeypatch):
    ray = FakeRay(initialized=True)
    monkeypatch.setitem(sys.modules, "ray", ray)

    def finished(result):
        raise KeyboardInterrupt  # Ctrl-C while the first result is saved

    with pytest.raises(KeyboardInterrupt):
        cluster.run_tasks(train_chunk, ["c0", "c1", "c2"], "auto", finished)
    cancelled = [(task, function, item, force) for (_, task, (function, item)), force in ray.cancelled]
    assert cancelled == [(cluster._task, train_chunk, c, True) for c in ("c0", "c1")]  # c2 ended first


def test_a_task_keeps_its_jax_compiles_as_the_dlpy35_command_does(monkeypatch, tmp_path):
    monkeypatch.setattr(caches, "_jax_compiles", None)
    monkeypatch.setenv("DLPY35_CACHE", str(tmp_path))
    assert cluster._task(lambda item: (item, caches.jax_compiles_dir()), "c0") == ("c0", tmp_path / "jax")


@pytest.mark.parametrize("address", [":7000", "ray://:10001", "head:x", "head:"])
def test_an_address_without_a_host_or_a_numeric_port_is_refused(address):
    with pytest.raises(ValueError, match=r"not a Ray address; give auto, HOST:PORT or ray://HOST:PORT$"):
        cluster.ray_endpoint(address)
