"""A run's identity (dlpy35.storage.identity): the data digest, the JSON form and the one comparison."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlpy35.storage import identity

X = np.arange(12, dtype=np.float32).reshape(3, 4) / 16
Y = np.array([0, 2, 1], dtype=np.int64)


def test_the_digest_is_sha256_of_each_name_and_each_arrays_dtype_shape_and_bytes():
    """Computed here independently, from the bytes the description names."""
    h = hashlib.sha256()
    h.update(b"training\0")
    for a in (X, Y):
        h.update(f"{a.dtype.str}{a.shape}\0".encode() + a.tobytes())
    assert identity.digest({"training": (X, Y)}) == h.hexdigest()[:16]


@pytest.mark.parametrize("what, other", [
    ("another name", {"test": (X, Y)}),
    ("one value changed", {"training": (X + np.float32(1 / 16) * (X == X.max()), Y)}),
    ("labels changed", {"training": (X, Y[::-1])}),
    ("the same bytes in another shape", {"training": (X.reshape(4, 3), Y)}),
    ("the same values in another dtype", {"training": (X.astype(np.float64), Y)}),
    ("a set more", {"training": (X, Y), "test": (X, Y)}),
    ("rows moved between the arrays", {"training": (X[:2], Y[:2], X[2:], Y[2:])}),
])
def test_any_change_of_the_data_changes_the_digest(what, other):
    assert identity.digest(other) != identity.digest({"training": (X, Y)}), what


def test_the_digest_reads_views_and_empty_arrays():
    full = np.arange(40, dtype=np.float32).reshape(10, 4)
    view = full[::2]  # not contiguous
    assert identity.digest({"x": view}) == identity.digest({"x": np.ascontiguousarray(view)})
    assert identity.digest({"x": full[:0]}) != identity.digest({"x": full[:0].reshape(0, 2, 2)})


def test_an_identity_is_what_json_gives_back():
    ident = identity.identity(sizes=(784, np.int64(30), 10), eta0=np.float32(0.5), seed=None, gen=object)
    assert ident == json.loads(json.dumps(ident))
    assert ident["sizes"] == [784, 30, 10] and ident["eta0"] == 0.5 and ident["gen"] == str(object)


@pytest.mark.parametrize("recorded, current, found", [
    ({"a": 1, "b": 2}, {"a": 1, "b": 2}, None),
    ({"a": 1, "b": 2}, {"b": 3, "a": 4}, ("b", 2, 3)),  # the current identity's order
    ({"a": 1}, {"a": 1, "b": 2}, ("b", "absent", 2)),
    ({"a": 1, "b": 2}, {"a": 1}, ("b", 2, "absent")),
    ({"a": [1, 2]}, {"a": [1, 2.5]}, ("a", [1, 2], [1, 2.5])),
    ({"a": None}, {"a": 0}, ("a", None, 0)),
])
def test_the_first_difference(recorded, current, found):
    got = identity.first_difference(recorded, current)
    absent = identity._ABSENT
    assert got == (None if found is None else tuple(absent if v == "absent" else v for v in found))


@pytest.mark.parametrize("recorded, message", [
    ({"seed": 1, "dtype": "float32"},
     "ck: cannot resume: the checkpoint has seed=1 but this run has seed=2; fix it"),
    ({"seed": 2}, "ck: cannot resume: the checkpoint has no dtype but this run has dtype='float32'; fix it"),
    ({"seed": 2, "dtype": "float32", "lmbda": 5.0},
     "ck: cannot resume: the checkpoint has lmbda=5.0 but this run has no lmbda; fix it"),
    (None, "ck: cannot resume: the checkpoint records no settings (it was written by an older dlpy35); "
           "fix it"),
])
def test_check_same_names_the_setting_and_both_values_in_one_line(recorded, message):
    with pytest.raises(ValueError) as info:
        identity.check_same(recorded, {"seed": 2, "dtype": "float32"}, "ck: cannot resume: the checkpoint",
                            "fix it")
    assert str(info.value) == message


def test_check_same_accepts_the_same_identity_and_raises_the_error_given():
    identity.check_same({"seed": 2}, {"seed": 2}, "p", "f")
    with pytest.raises(KeyError, match="data_digest='a' but this sweep has data_digest='b' \\(the data"):
        identity.check_same({"data_digest": "a"}, {"data_digest": "b"}, "p", "f", KeyError, this="this sweep")


SETTINGS = st.dictionaries(st.sampled_from(["seed", "eta0", "sizes", "dtype", "lmbda"]),
                           st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=False),
                                     st.lists(st.integers(0, 9), max_size=3), st.text(max_size=3)))


@settings(derandomize=True, max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(SETTINGS, SETTINGS)
def test_two_identities_differ_exactly_when_a_difference_is_found(a, b):
    a, b = identity.identity(**a), identity.identity(**b)
    found = identity.first_difference(a, b)
    assert (found is None) == (a == b)
    if found is not None:
        key, old, new = found
        assert old != new
        assert old == a.get(key, identity._ABSENT) and new == b.get(key, identity._ABSENT)
        earlier = list(b)[:list(b).index(key)] if key in b else list(b)  # the settings compared before
        assert all(a.get(k, identity._ABSENT) == b[k] for k in earlier)
