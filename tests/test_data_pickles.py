"""Tests for dlpy35.data.pickles: the book's pickle read, and every pickle that claims more than it
holds, runs code or builds more than its bounds refused in one line before the memory is spent."""

from __future__ import annotations

import codecs
import gzip
import io
import pickle
import struct

import numpy as np
import pytest
from data_helpers import Claim, _Py2Pickler, assert_error, book_pickle, book_sets, read_in_child, zeros_gzip

from dlpy35.data import DataError, load_pickle, pickles


def test_load_pickle_book_format(tmp_path):
    sets = book_sets()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(book_pickle(sets))
    assert b"numpy.core.multiarray" in gzip.decompress(path.read_bytes())
    out = load_pickle(path)
    assert len(out) == 3
    for (x, y), (ex, ey) in zip(out, sets, strict=True):
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


@pytest.mark.parametrize("protocol", [2, 4, pickle.HIGHEST_PROTOCOL])
def test_load_pickle_python3_protocols(tmp_path, protocol):
    sets = book_sets(seed=7)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(sets, protocol=protocol)))
    out = load_pickle(path)
    for (x, y), (ex, ey) in zip(out, sets, strict=True):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


def _pickle_cases():
    (tr, va, te) = book_sets(seed=8)
    bad_label = (te[0], te[1].copy())
    bad_label[1][2] = 10
    empty = (tr[0][:0], tr[1][:0])
    return {
        "pair": ((tr, va), "expected (training, validation, test)"),
        "not-a-pair": ((tr, va, (te[0],)), "test set is not an (images, labels) pair"),
        "width": ((tr, va, (te[0][:, :783], te[1])), "(4, 783)"),
        "count": ((tr, (va[0], va[1][:4]), te), "validation set has 5 images but 4 labels"),
        "training-width": (((tr[0][:, :783], tr[1]), va, te), "training images are float32 (12, 783)"),
        "label": ((tr, va, bad_label), "label 10 at index 2"),
        "float-labels": ((tr, va, (te[0], te[1].astype(float))), "test labels are float64"),
        "no-training-images": ((empty, va, te), "training set has no images"),
        "no-test-images": ((tr, va, empty), "test set has no images"),
    }


@pytest.mark.parametrize("case", list(_pickle_cases()))
def test_load_pickle_wrong_structure(tmp_path, case):
    obj, needle = _pickle_cases()[case]
    path = tmp_path / f"{case}.pkl.gz"
    path.write_bytes(book_pickle(obj))
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, path.name, needle)


def test_load_pickle_refuses_other_objects(tmp_path):
    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(gzip.compress(b"cos\nsystem\n(S'echo hacked'\ntR."))
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, "evil.pkl.gz", "os.system")


def test_load_pickle_not_a_pickle(tmp_path):
    path = tmp_path / "junk.pkl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00junk")
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, "junk.pkl.gz")


# --------------------------------------------------------------------------- claims and bounds


class _Reduced:
    """Pickles as ``func(*args)``, then ``state`` given to the result's ``__setstate__`` when not None."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


_RECONSTRUCT = np.empty(0).__reduce__()[0]


def _array_state(shape, dtype, data):
    """An array pickled as numpy pickles one: ``_reconstruct`` of an empty array, then its state."""
    return _Reduced(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, shape, np.dtype(dtype), False, data))


def _three(images, labels):
    return ((images, labels),) * 3


@pytest.mark.parametrize("obj, needle", [
    (_three(Claim((300_000, 784)), Claim((300_000,), "i8")),
     "235,200,000 elements declared without its data"),
    (_three(Claim(5), Claim((5,), "i8")), "5 elements declared without its data"),
    (_three(_Reduced(np.ndarray, ((300_000, 784), "f4")), Claim((0,))), "refusing to call numpy.ndarray"),
    (_three(_array_state((1000, 784), "f4", bytes(8)), Claim((0,))),
     "(1000, 784) float32 (3,136,000 bytes) comes with 8 bytes"),
    (_three(_array_state((2,), object, [1, 2]), Claim((0,))), "not of numbers"),
    (_three(_array_state(-1, "f4", bytes(4)), Claim((0,))), "not a tuple of sizes"),
], ids=["300000-images-in-bytes", "int-shape", "ndarray-called", "short-data", "objects", "bad-shape"])
def test_an_array_claimed_beyond_its_data_is_refused_before_allocation(tmp_path, obj, needle):
    path = tmp_path / "claim.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    assert path.stat().st_size < 400
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, "claim.pkl", "cannot unpickle", needle)


def test_a_pickle_larger_than_the_bound_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(book_pickle(book_sets()))  # 66 kB of pickle
    monkeypatch.setattr(pickles, "MAX_PICKLE_BYTES", 60_000)
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, "mnist.pkl.gz", "holds more than 60,000 bytes")
    monkeypatch.setattr(pickles, "MAX_PICKLE_BYTES", 70_000)
    assert len(load_pickle(path)) == 3


@pytest.mark.parametrize("py2", [True, False], ids=["string-in-arrays", "codecs-encode"])
def test_one_string_built_into_many_copies_is_refused(tmp_path, monkeypatch, py2):
    """A pickle names its string once and uses it 40 times: 40 copies (1.25 MB) from a pickle of 50 kB."""
    text = (bytes(range(256)) * 123)[:31_360]  # the float32 pixels of 10 images
    if py2:  # a Python 2 pickle: the string is a str once read, and numpy copies it into each array
        items = [_array_state((10, 784), "f4", text) for _ in range(40)]
        buf = io.BytesIO()
        _Py2Pickler(buf, protocol=2).dump(items)
        content = buf.getvalue()
    else:  # a Python 3 protocol-2 pickle: each bytes object is _codecs.encode of one str
        shared = text.decode("latin1")
        content = pickle.dumps([_Reduced(codecs.encode, (shared, "latin1")) for _ in range(40)], protocol=2)
    assert len(content) < 50_000
    path = tmp_path / "copies.pkl"
    path.write_bytes(content)
    monkeypatch.setattr(pickles, "MAX_PICKLE_BYTES", 300_000)
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, "copies.pkl", "builds arrays of more than 600,000 bytes")


def test_a_length_beyond_any_memory_is_a_data_error_not_memory_error(tmp_path):
    path = tmp_path / "huge.pkl"
    path.write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + bytes(100))  # BINBYTES8 of 4 EiB
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, "huge.pkl", "declares more data than this machine's memory holds")


def test_pickle_bombs_are_refused_within_600_mb(tmp_path):
    claim = tmp_path / "claim.pkl.gz"  # 300,000 images declared in under 200 bytes: 951 MB once
    claim.write_bytes(gzip.compress(pickle.dumps(_three(Claim((300_000, 784)), Claim((300_000,), "i8")),
                                                 protocol=2), mtime=0))
    declared = tmp_path / "declared.pkl.gz"  # a byte string declared 2 GiB long
    declared.write_bytes(gzip.compress(b"\x80\x04\x8e" + struct.pack("<Q", 2 << 30) + bytes(1000), mtime=0))
    inflating = tmp_path / "inflating.pkl.gz"  # a Python 2 string of 768 MiB of zeros, 780 kB of gzip
    inflating.write_bytes(gzip.compress(b"\x80\x02T" + struct.pack("<I", 768 << 20), mtime=0)
                          + zeros_gzip(768 << 20))
    assert max(p.stat().st_size for p in (claim, declared, inflating)) < 1 << 20
    lines = read_in_child("pickle", [claim, declared, inflating])
    assert len(lines) == 3
    assert lines[0].startswith(f"{claim}: cannot unpickle (an array of 235,200,000 elements declared without")
    for line, path in zip(lines[1:], (declared, inflating), strict=True):
        assert line.startswith(f"{path}: ") and ("memory" in line or "holds more than" in line), line
