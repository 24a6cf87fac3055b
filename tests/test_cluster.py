"""Tests of dlpy35.studies.cluster: Ray addresses probed before Ray is asked, tasks run on a local cluster."""

from __future__ import annotations

import json
import time

import pytest

from dlpy35.studies import cluster


@pytest.mark.parametrize("address, endpoint", [
    ("auto", None), ("local", None), ("10.0.0.1:6379", ("10.0.0.1", 6379)), ("head", ("head", 6379)),
    ("ray://head", ("head", 10001)), ("ray://head:10002/", ("head", 10002)), ("[::1]:7000", ("::1", 7000)),
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
