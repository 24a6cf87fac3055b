"""Property-based tests: files corrupted at random raise only the loading module's own error.

Every loader of a file dlpy35 reads -- IDX data (:mod:`dlpy35.data`), network2's JSON,
network3's npz and training checkpoints -- is fed files derived from a valid one by
random corruption: bytes flipped, overwritten, inserted or cut, headers rewritten,
arrays dropped or replaced, values replaced by other JSON types, by numbers beyond the
network's dtype, by NaN or by lists nested 100,000 deep.  Each outcome must be a load
consistent with the file, or the module's error (:class:`~dlpy35.data.DataError`,
:class:`~dlpy35.storage.saved_files.SavedFileError`) in one line naming the file; any other exception
fails the test.  No load may allocate much more memory than the file's size, whatever
sizes a header claims.

Hypothesis runs derandomized (a fixed seed per test, no example database), so the
suite is deterministic; the corruptions that once leaked are also pinned as plain tests.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import math
import re
import struct
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from data_helpers import IDX_CODES, NAMES, idx_bytes, synthetic_mnist
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from dlpy35 import network2
from dlpy35 import network3 as n3
from dlpy35.data import DataError, load_idx_dir, parse_idx, read_idx
from dlpy35.engine import costs
from dlpy35.engine.layers import FullyConnectedLayer, SoftmaxLayer
from dlpy35.storage import checkpoint
from dlpy35.storage.saved_files import SavedFileError

CPU = {"mode": "JAX", "device": "cpu"}
# float64 on NUMBA: JAX without x64 would hold float32 whatever the dtype asked for.
CPU_FOR = {"float32": CPU, "float64": {"mode": "NUMBA", "device": "cpu"}}
IDX_DTYPES = {code: np.dtype(name) for name, code in IDX_CODES.items()}
MEMORY_SLACK = 64 << 20  # bytes a load may allocate beyond 64 times its file's size


def fuzz(max_examples):
    """Deterministic settings: a fixed seed, no example database, no per-example deadline."""
    return settings(derandomize=True, max_examples=max_examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------- outcomes


def outcome(call, error, path: Path, size: int):
    """``(result, None)`` or ``(None, exc)`` when `call` raises `error`; anything else propagates.

    The error must be one line naming `path` (its file name: messages may show the path
    relative to the working directory).  The call may not allocate more than
    ``64 * size + MEMORY_SLACK`` bytes: a header claiming billions of items must be
    refused from the file's length, not by trying to allocate them.
    """
    tracemalloc.start()
    try:
        try:
            result, exc = call(), None
        except error as e:
            result, exc = None, e
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * size + MEMORY_SLACK, f"allocated {peak:,} bytes for a file of {size:,}"
    if exc is not None:
        msg = str(exc)
        assert "\n" not in msg, msg
        assert path.name in msg, (path.name, msg)
    # What the examples came to, for ``pytest --hypothesis-show-statistics``: loads, and kinds of error.
    if currently_in_test_context():  # plain tests share this helper
        event("loaded" if exc is None else re.sub(r"\d+", "N", str(exc).split(": ", 1)[-1])[:70])
    return result, exc


# --------------------------------------------------------------------------- byte corruption

# A position: anywhere (taken modulo the length), or near the k-th anchor (a header).
POSITION = st.one_of(st.tuples(st.just("any"), st.integers(0, 1 << 20)),
                     st.tuples(st.just("near"), st.integers(0, 63), st.integers(-4, 80)))
BYTE_OP = st.one_of(
    st.tuples(st.just("flip"), POSITION, st.integers(1, 255)),
    st.tuples(st.just("set"), POSITION, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), POSITION, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), POSITION, st.integers(1, 64)),
    st.tuples(st.just("truncate"), POSITION),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
)
BYTE_OPS = st.lists(BYTE_OP, min_size=1, max_size=4)
# Where the headers of a zip (local, central, end records) and of an npy member start.
ZIP_ANCHORS = (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"\x93NUMPY")


def anchors_in(buf: bytes, signatures=ZIP_ANCHORS) -> list[int]:
    return sorted(m.start() for s in signatures for m in re.finditer(re.escape(s), buf)) or [0]


def corrupt(buf: bytes, ops, anchors=(0,)) -> bytes:
    """`buf` after the byte operations `ops` (see ``BYTE_OP``)."""
    b = bytearray(buf)

    def at(pos):
        if pos[0] == "any":
            return pos[1] % (len(b) + 1)
        return min(max(anchors[pos[1] % len(anchors)] + pos[2], 0), len(b))

    for op in ops:
        kind = op[0]
        if kind == "append":
            b += op[1]
            continue
        i = at(op[1])
        if kind == "flip" and i < len(b):
            b[i] ^= op[2]
        elif kind == "set":
            b[i:i + len(op[2])] = op[2]
        elif kind == "insert":
            b[i:i] = op[2]
        elif kind == "delete":
            del b[i:i + op[2]]
        elif kind == "truncate":
            del b[i:]
    return bytes(b)


# --------------------------------------------------------------------------- IDX files

DIM = st.one_of(st.sampled_from([0, 1, 2, 3, 27, 28, 29, 784, 10**9, 2**31 - 1, 2**31, 2**32 - 1]),
                st.integers(0, 2**32 - 1))
IDX_HEADER = st.fixed_dictionaries({}, optional={
    "magic": st.binary(min_size=2, max_size=2),
    "code": st.one_of(st.sampled_from(sorted(IDX_DTYPES)), st.integers(0, 255)),
    "ndim": st.one_of(st.integers(0, 4), st.integers(0, 255)),
    "dims": st.one_of(st.lists(DIM, max_size=5),
                      st.lists(st.sampled_from([0, 1]), min_size=60, max_size=70)),  # numpy allows 64
})


def idx_file(arr: np.ndarray, header: dict) -> bytes:
    """The IDX encoding of `arr`, its header fields replaced by those in `header`.

    Without an ``ndim`` of its own, the header counts the ``dims`` it is given.
    """
    dims = header.get("dims", arr.shape)
    head = (header.get("magic", b"\0\0") + bytes([header.get("code", 0x08), header.get("ndim", len(dims))])
            + struct.pack(f">{len(dims)}I", *dims))
    return head + arr.tobytes()


def check_idx(arr: np.ndarray, raw: bytes) -> None:
    """`arr` is what the (uncompressed) IDX bytes `raw` describe: shape, type and values."""
    code, ndim = raw[2], raw[3]
    dims = struct.unpack_from(f">{ndim}I", raw, 4)
    dtype = IDX_DTYPES[code]
    assert arr.shape == dims and arr.dtype == dtype and arr.dtype.isnative
    assert 4 + 4 * ndim + arr.nbytes == len(raw)
    want = np.frombuffer(raw, dtype.newbyteorder(">"), math.prod(dims), 4 + 4 * ndim).reshape(dims)
    np.testing.assert_array_equal(arr, want)


def decompressed(content: bytes) -> bytes:
    return gzip.decompress(content) if content[:2] == b"\x1f\x8b" else content


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("corrupt")


@fuzz(400)
@given(n=st.integers(0, 3), labels=st.booleans(), header=IDX_HEADER, ops=st.none() | BYTE_OPS,
       gz=st.booleans(), corrupt_after_gzip=st.booleans())
def test_read_idx_corrupted(scratch, n, labels, header, ops, gz, corrupt_after_gzip):
    rng = np.random.default_rng(n)
    arr = rng.integers(0, 256, n if labels else (n, 28, 28), dtype=np.uint8)
    content = idx_file(arr, header)
    if ops and not (gz and corrupt_after_gzip):
        content = corrupt(content, ops, [0, 4, 8, 16])
    if gz:
        content = gzip.compress(content, mtime=0)
        if ops and corrupt_after_gzip:
            content = corrupt(content, ops, [0, 10, len(content) - 8])
    path = scratch / ("labels-idx1-ubyte" if labels else "images-idx3-ubyte")
    path.write_bytes(content)
    got, _ = outcome(lambda: read_idx(path), DataError, path, len(content))
    if got is not None:
        check_idx(got, decompressed(content))
    if not gz:  # the same bytes given directly, in each form parse_idx takes
        for form in (bytes, bytearray, memoryview):
            got, _ = outcome(lambda: parse_idx(form(content), "in-memory.idx"), DataError,  # noqa: B023
                             Path("in-memory.idx"), len(content))
            if got is not None:
                check_idx(got, content)


SPLIT = synthetic_mnist(seed=1, n_train=6, n_test=3, side=28)[0]  # labels 0..9: any n_classes >= 10 fits
DIR_CORRUPTIONS = ["bytes", "header", "directory", "missing", "both"]


@fuzz(200)
@given(target=st.sampled_from(NAMES), kind=st.sampled_from(DIR_CORRUPTIONS), header=IDX_HEADER, ops=BYTE_OPS,
       gz=st.lists(st.booleans(), min_size=4, max_size=4), n_classes=st.sampled_from([None, 10, 256]))
def test_load_idx_dir_corrupted(scratch, target, kind, header, ops, gz, n_classes):
    with tempfile.TemporaryDirectory(dir=scratch) as d:
        d = Path(d)
        for name, use_gz in zip(NAMES, gz):
            content = SPLIT[name]
            if name == target and kind == "bytes":
                content = corrupt(content, ops, [0, 4, 8, 16])
            elif name == target and kind == "header":
                dims, body = struct.unpack_from(f">{content[3]}I", content, 4), content[4 + 4 * content[3]:]
                content = idx_file(np.frombuffer(body, np.uint8).reshape(dims), header)
            path = d / (name + ".gz" if use_gz else name)
            if name == target and kind == "directory":
                path.mkdir()  # a directory where the file should be: the file counts as missing
            elif not (name == target and kind == "missing"):
                path.write_bytes(gzip.compress(content, mtime=0) if use_gz else content)
            if name == target and kind == "both":  # the .gz is read first; the raw file is a decoy
                (d / (name if use_gz else name + ".gz")).write_bytes(corrupt(content, ops))
        size = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
        got, _ = outcome(lambda: load_idx_dir(d, n_classes=n_classes), DataError, d / target, size)
    if got is not None:
        (train_x, train_y), (test_x, test_y) = got
        for x, y in ((train_x, train_y), (test_x, test_y)):
            assert x.dtype == y.dtype == np.uint8 and x.ndim == 3 and y.ndim == 1 and len(x) == len(y)
            assert n_classes is None or y.size == 0 or y.max() < n_classes
        assert train_x.shape[1:] == test_x.shape[1:]


def test_read_idx_refuses_a_directory(tmp_path):
    with pytest.raises(DataError, match=tmp_path.name):
        read_idx(tmp_path)


@pytest.mark.parametrize("dims, shape", [((0, 2**31 - 1, 2**31 - 1), "0x2147483647x2147483647"),
                                         ((0,) * 65, "0" + "x0" * 64), ((1,) * 65, "1" + "x1" * 64)])
def test_idx_header_of_a_shape_numpy_cannot_make(tmp_path, dims, shape):
    path = tmp_path / "odd-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros(0 if 0 in dims else 1, np.int32), dims=dims))
    with pytest.raises(DataError, match=rf"odd-idx3-ubyte: the header's shape {shape} \(int32\) is not one"):
        read_idx(path)


@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
def test_idx_header_claiming_billions_allocates_nothing(tmp_path, code):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros(16, np.uint8), dims=(2**32 - 1,) * 3, code=code))
    _, exc = outcome(lambda: read_idx(path), DataError, path, 64)
    assert "truncated" in str(exc)


# --------------------------------------------------------------------------- JSON documents

# Raw JSON text the encoder cannot write (markers are replaced by it after json.dumps).
RAW_JSON = {
    "deep": "[" * 100_000 + "]" * 100_000,
    "deep-unclosed": "[" * 100_000,
    "deep-objects": '{"a": ' * 50_000 + "0" + "}" * 50_000,
    "deep-900": "[" * 900 + "0" + "]" * 900,
    "deep-100": "[" * 100 + "1.5" + "]" * 100,
    "digits": "9" * 5000,  # beyond Python's int string-conversion limit
    "1e400": "1e400",  # a float literal beyond float64: Python reads it as inf
    "-1e400": "-1e400",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
}


class Raw:
    """A value written as the raw JSON text ``RAW_JSON[key]``."""

    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return f"Raw({self.key!r})"


def dumps(doc) -> str:
    """JSON text of `doc`, with every :class:`Raw` value written as its raw text."""
    text = json.dumps(doc, default=lambda o: f"@@raw:{o.key}@@")
    return re.sub(r'"@@raw:([^@]+)@@"', lambda m: RAW_JSON[m.group(1)], text)


# Numbers beyond float32 (3.4e38) or float64, huge integers, numbers the shapes or names take.
SPECIAL = [1e308, -1e308, 3.5e38, -3.5e38, 1e39, 1e-320, 10**400, -(10**400), 2**63, 0, 1, 2, 3, 4, 8, 10,
           784, -1, 0.5, "float32", "float64", "float16", "CrossEntropyCost", "QuadraticCost", "SoftmaxLayer",
           "FullyConnectedLayer", "ConvPoolLayer", "sigmoid", "ReLU", "dlpy35.network3", "PCG64"]
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=4),
                 st.sampled_from(SPECIAL), st.sampled_from(sorted(RAW_JSON)).map(Raw))
VALUE = st.one_of(
    LEAF,
    st.lists(LEAF, max_size=4),
    st.dictionaries(st.text(max_size=3), LEAF, max_size=3),
    st.lists(st.lists(st.floats(-2, 2) | st.sampled_from([1e308, 3.5e38]), min_size=1, max_size=5),
             max_size=5),  # a matrix of another shape
)
TREE_OPS = ["replace", "replace", "delete", "append", "duplicate", "wrap", "unwrap"]


def nodes(doc, path=()):
    """The path of every node of a JSON document, the root first."""
    yield path
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        yield from nodes(v, (*path, k))


def mutate(data, doc, max_ops=3):
    """`doc` (a JSON document, changed in place) after 1..`max_ops` random edits; the new root."""
    for _ in range(data.draw(st.integers(1, max_ops))):
        path = data.draw(st.sampled_from(list(nodes(doc))))
        op = data.draw(st.sampled_from(TREE_OPS))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        node = parent[path[-1]] if path else doc
        if op == "replace":
            new = data.draw(VALUE)
        elif op == "delete" and path:
            del parent[path[-1]]
            continue
        elif op == "append" and isinstance(node, list):
            node.append(data.draw(VALUE))
            continue
        elif op == "append" and isinstance(node, dict):
            node[data.draw(st.text(max_size=8))] = data.draw(VALUE)
            continue
        elif op == "duplicate" and isinstance(node, list) and node:
            node.insert(0, copy.deepcopy(node[-1]))
            continue
        elif op == "wrap":
            new = [node]
        elif op == "unwrap" and isinstance(node, list) and node:
            new = node[0]
        else:
            continue
        if path:
            parent[path[-1]] = new
        else:
            doc = new
    return doc


# --------------------------------------------------------------------------- network2 JSON


@pytest.fixture(scope="module")
def n2_saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("n2") / "net.json"
    network2.Network([4, 3, 2], seed=0, **CPU).save(path)
    return path.read_text()


def check_network2(net, text, dtype):
    """`net` holds what the document `text` describes, in `dtype`."""
    doc = json.loads(text)
    assert net.sizes == doc["sizes"] and net.cost is costs.get(doc["cost"])
    for got, want in zip(net.weights + net.biases, doc["weights"] + doc["biases"]):
        want = np.asarray(want, np.float64).astype(dtype)
        assert got.dtype == dtype and np.all(np.isfinite(got))
        np.testing.assert_array_equal(got, want)


def load_network2(scratch, text, dtype):
    path = scratch / "network2.json"
    path.write_text(text)
    net, _ = outcome(lambda: network2.load(path, dtype=dtype, **CPU_FOR[dtype]), SavedFileError, path,
                     len(text))
    if net is not None:
        check_network2(net, text, dtype)
    return net


@fuzz(300)
@given(data=st.data(), dtype=st.sampled_from(["float32", "float64"]))
def test_network2_load_structure_corrupted(scratch, n2_saved, data, dtype):
    load_network2(scratch, dumps(mutate(data, json.loads(n2_saved))), dtype)


@fuzz(200)
@given(ops=BYTE_OPS)
def test_network2_load_bytes_corrupted(scratch, n2_saved, ops):
    path = scratch / "network2-bytes.json"
    content = corrupt(n2_saved.encode(), ops)
    path.write_bytes(content)
    net, _ = outcome(lambda: network2.load(path, **CPU), SavedFileError, path, len(content))
    if net is not None:
        check_network2(net, path.read_text(), "float32")


# The corruptions that once escaped as other exceptions, or loaded as inf: pinned here.
N2_CASES = {
    "100,000 nested lists as a weight": ("weights", 0, Raw("deep")),
    "100,000 nested objects as the cost": ("cost", None, Raw("deep-objects")),
    "an integer of 5000 digits": ("sizes", 0, Raw("digits")),
    "an integer beyond float64": ("biases", 1, [[10**400], [0.0]]),
    "1e308, beyond float32": ("weights", 1, [[1e308, 0.0, 0.0], [0.0, 0.0, 0.0]]),
    "3.5e38, just beyond float32": ("biases", 0, [[3.5e38], [0.0], [0.0]]),
    "1e400, read as inf": ("biases", 0, [[Raw("1e400")], [0.0], [0.0]]),
    "a list for the cost": ("cost", None, ["CrossEntropyCost"]),
}


@pytest.mark.parametrize("case", list(N2_CASES))
def test_network2_load_pinned_corruptions(tmp_path, n2_saved, case):
    key, index, value = N2_CASES[case]
    doc = json.loads(n2_saved)
    if index is None:
        doc[key] = value
    else:
        doc[key][index] = value
    path = tmp_path / "pinned.json"
    path.write_text(dumps(doc))
    with pytest.raises(SavedFileError) as info:
        network2.load(path, **CPU)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_network2_value_beyond_float32_loads_only_where_float64_is_kept(tmp_path, n2_saved):
    doc = json.loads(n2_saved)
    doc["weights"][1][0][0] = 1e308
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SavedFileError, match=r"overflow float32; load it with dtype=.float64") as info:
        network2.load(path, **CPU)
    assert str(path) in str(info.value)
    assert network2.load(path, dtype="float64", **CPU_FOR["float64"]).weights[1][0, 0] == 1e308
    # JAX without x64 keeps float32 on the device even when float64 is asked for
    with pytest.raises(SavedFileError, match=r"not finite on the device .*mode=.NUMBA") as info:
        network2.load(path, dtype="float64", **CPU)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- npz archives


def npy(arr: np.ndarray, header: dict | None = None) -> bytes:
    """The npy encoding of `arr`, its header's fields replaced by those in `header`."""
    buf = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buf, arr, allow_pickle=False)
    else:
        fields = {"descr": np.lib.format.dtype_to_descr(arr.dtype), "fortran_order": False,
                  "shape": arr.shape}
        np.lib.format.write_array_header_1_0(buf, {**fields, **header})
        buf.write(arr.tobytes())
    return buf.getvalue()


def npy_with_header_text(text: str, data: bytes = b"") -> bytes:
    """An npy (version 1.0) whose header is `text`, padded as numpy pads it, then `data`."""
    head = text.encode("latin1")
    head += b" " * (-(10 + len(head) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head + data


def text_beyond_unicode(doc: dict) -> np.ndarray:
    """A 0-d str array of ``json.dumps(doc)``, its first ``X`` made a code unit beyond U+10FFFF.

    numpy makes such a str without complaint; formatting it later raises SystemError.
    """
    text = json.dumps(doc)
    units = np.frombuffer(np.array(text).astype("<U").tobytes(), "<u4").copy()
    units[text.index("X")] = 0x7F000058
    return np.frombuffer(units.tobytes(), f"<U{len(text)}").reshape(())


def npz(members: dict, compressed=False) -> bytes:
    """A zip of ``<name>.npy`` members, as ``np.savez`` writes; a member may be raw npy bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as zf:
        for name, value in members.items():
            zf.writestr(name + ".npy", value if isinstance(value, bytes) else npy(value))
    return buf.getvalue()


# Arrays that replace a member: other shapes, dtypes that are not real numbers, non-finite values.
ARRAY = st.sampled_from([
    np.zeros(0), np.zeros(()), np.zeros((8,), np.float32), np.zeros((784, 8), np.float64),
    np.full((784, 8), 1e308), np.full((8,), 3.5e38), np.full((8, 10), np.nan, np.float32),
    np.full((10,), -np.inf), np.zeros((8, 10), np.int64), np.ones((8, 10), bool), np.zeros((8, 10), complex),
    np.full((8, 10), "x"), np.zeros((8, 10), "S2"), np.zeros((8, 10), "V4"), np.zeros((8,), "M8[s]"),
    np.array("{}"), np.array(["{", "}"]), np.array(b"{}"), np.zeros((8, 10), "f2"),
])
SPECIAL_FLOATS = [1e308, -1e308, 3.5e38, np.nan, np.inf, -np.inf, 1e-320, 0.0]
# Headers that lie about what follows: huge or negative shapes, other element types.
NPY_HEADER = st.fixed_dictionaries({}, optional={
    "shape": st.one_of(st.sampled_from([(), (0,), (10**9,), (10**12,), (2**62,), (2**70,), (-1,), (8, -10),
                                        (3.5,), (10**5, 10**5), (784, 8, 1), (10, 8)]),
                       st.lists(st.integers(0, 2**40), max_size=3).map(tuple)),
    "descr": st.sampled_from(["<f4", "<f8", ">f4", "<f2", "|u1", "<i8", "|b1", "<c8", "|O", "<U3", "|S0",
                              "<V8", "garbage", "<M8[s]", 3]),
    "fortran_order": st.sampled_from([True, False, 1, "no"]),
})


def corrupt_npz(data, members: dict, json_key: str):
    """The bytes of an npz made from `members` (name -> array) after random corruption.

    Members are dropped, replaced by other arrays or given npy headers that lie; the
    JSON document in member `json_key` is edited as a tree or as text; then the archive's
    bytes may be corrupted too.
    """
    members = dict(members)
    for _ in range(data.draw(st.integers(0, 2))):
        name = data.draw(st.sampled_from(sorted(members)))
        kind = data.draw(st.sampled_from(["drop", "array", "value", "header", "json", "json-text"]))
        if kind == "drop":
            del members[name]
        elif kind == "array":
            members[name] = data.draw(ARRAY)
        elif kind == "value" and getattr(members[name], "dtype", np.dtype("U")).kind == "f":
            # the same shape, one value special
            a = members[name].astype(data.draw(st.sampled_from([np.float32, np.float64])))
            if a.size:
                with np.errstate(over="ignore"):  # 1e308 into float32 is inf: one more special value
                    a.flat[data.draw(st.integers(0, a.size - 1))] = data.draw(st.sampled_from(SPECIAL_FLOATS))
            members[name] = a
        elif kind == "header" and isinstance(members[name], np.ndarray):
            members[name] = npy(members[name], data.draw(NPY_HEADER))
        elif kind == "json" and json_key in members:
            try:
                doc = json.loads(str(members[json_key]))
            except (ValueError, RecursionError):  # no longer JSON, after an earlier edit
                continue
            members[json_key] = np.array(dumps(mutate(data, doc)))
        elif kind == "json-text" and json_key in members:
            text = corrupt(str(members[json_key]).encode(), data.draw(BYTE_OPS))
            members[json_key] = np.array(text.decode("utf-8", "replace"))
    content = npz(members, compressed=data.draw(st.booleans()))
    if data.draw(st.integers(0, 9)) == 0:  # one array alone, an npy file, its header maybe lying
        name = data.draw(st.sampled_from(sorted(members)))
        content = members[name] if isinstance(members[name], bytes) else npy(members[name],
                                                                              data.draw(NPY_HEADER))
    if data.draw(st.booleans()):
        content = corrupt(content, data.draw(BYTE_OPS), anchors_in(content))
    return content


def stored_arrays(path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


# --------------------------------------------------------------------------- network3 npz


@pytest.fixture(scope="module")
def n3_saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("n3") / "net.npz"
    n3.Network([FullyConnectedLayer(784, 8), SoftmaxLayer(8, 10)], 10, seed=0, **CPU).save(path)
    return stored_arrays(path)


def load_network3(path, size):
    """Load with the default CPU mode for the file's dtype (float64 on NUMBA), check a success."""
    net, _ = outcome(lambda: n3.load(path, device="cpu"), SavedFileError, path, size)
    if net is not None:
        stored = stored_arrays(path)
        spec = json.loads(str(stored["spec"]))
        assert net.mini_batch_size == spec["mini_batch_size"] and net.dtype == spec["dtype"]
        assert [layer.spec()["type"] for layer in net.layers] == [s["type"] for s in spec["layers"]]
        for i, got in enumerate(net.weights):
            assert got.dtype == net.dtype and np.all(np.isfinite(got))
            np.testing.assert_array_equal(got, stored[f"p{i}"].astype(net.dtype))
    return net


@fuzz(300)
@given(data=st.data())
def test_network3_load_corrupted(scratch, n3_saved, data):
    content = corrupt_npz(data, n3_saved, "spec")
    path = scratch / "network3.npz"
    path.write_bytes(content)
    load_network3(path, len(content))


def test_network3_float64_beyond_float32_refused_on_jax(tmp_path, n3_saved):
    spec = {**json.loads(str(n3_saved["spec"])), "dtype": "float64"}
    path = tmp_path / "wide.npz"
    path.write_bytes(npz({**n3_saved, "spec": np.array(json.dumps(spec)), "p2": np.full((8, 10), 1e300)}))
    assert n3.load(path, device="cpu").weights[2][0, 0] == 1e300  # float64 on NUMBA keeps it
    # JAX without x64 keeps float32 on the device even for a float64 network
    with pytest.raises(SavedFileError, match=r"not finite on the device .*mode=.NUMBA") as info:
        n3.load(path, **CPU)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_directory_in_place_of_the_file(tmp_path):
    (tmp_path / "net.npz").mkdir()
    with pytest.raises(SavedFileError, match="net.npz"):
        n3.load(tmp_path / "net.npz", **CPU)
    checkpoint.path_in(tmp_path).mkdir()
    with pytest.raises(checkpoint.CheckpointError, match=checkpoint.FILENAME):
        checkpoint.load(tmp_path)


def test_network3_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        n3.load(tmp_path / "nope.npz", **CPU)


N3_CASES = {
    "a weight beyond float32": ("p0", np.full((784, 8), 1e308)),
    "a bias as complex numbers": ("p3", np.zeros(10, complex)),
    "a header claiming 10**12 floats": ("p0", npy(np.zeros((784, 8), np.float32), {"shape": (10**12,)})),
    "a header claiming 2**70 floats": ("p1", npy(np.zeros(8, np.float32), {"shape": (2**70,)})),
    "a header claiming 10**9 floats": ("p1", npy(np.zeros(8, np.float32), {"shape": (10**9,)})),
    "a header with an unterminated string": ("p2", npy_with_header_text("{'descr': '<f4", bytes(320))),
    "the spec 100,000 lists deep": ("spec", np.array(RAW_JSON["deep"])),
    "the spec with a code point beyond Unicode": ("spec", "X"),
    "the dtype float16": ("spec", "float16"),
    "the dtype a list": ("spec", ["float32"]),
    "the mini-batch size 0": ("spec", 0),
    "the mini-batch size 1e308": ("spec", 1e308),
    "an npy file claiming 10**9 floats": (None, npy(np.zeros(16, np.float32), {"shape": (10**9,)})),
}


@pytest.mark.parametrize("case", list(N3_CASES))
def test_network3_load_pinned_corruptions(tmp_path, n3_saved, case):
    name, value = N3_CASES[case]  # name None: the value is the whole file
    if name == "spec" and not isinstance(value, np.ndarray):  # a value for one key of the spec
        spec = json.loads(str(n3_saved["spec"]))
        spec["dtype" if "dtype" in case or value == "X" else "mini_batch_size"] = value
        value = text_beyond_unicode(spec) if value == "X" else np.array(json.dumps(spec))
    path = tmp_path / "pinned.npz"
    path.write_bytes(value if name is None else npz({**n3_saved, name: value}))
    _, exc = outcome(lambda: n3.load(path, device="cpu"), SavedFileError, path, path.stat().st_size)
    assert exc is not None


# --------------------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def checkpoint_saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("checkpoint")
    rng = np.random.default_rng(0)
    x = rng.random((40, 4)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 40)]
    network2.Network([4, 3, 2], seed=0, **CPU).SGD((x, y), 1, 10, 0.5, checkpoint_dir=d, verbose=False)
    return stored_arrays(checkpoint.path_in(d))


@fuzz(300)
@given(data=st.data())
def test_checkpoint_load_corrupted(scratch, checkpoint_saved, data):
    content = corrupt_npz(data, checkpoint_saved, "meta")
    d = scratch / "run"
    d.mkdir(exist_ok=True)
    path = checkpoint.path_in(d)
    path.write_bytes(content)
    found, _ = outcome(lambda: checkpoint.load(d), checkpoint.CheckpointError, path, len(content))
    if found is not None:
        weights, biases, meta = found
        stored = stored_arrays(path)
        assert isinstance(meta, dict) and meta["format"] == checkpoint.FORMAT
        assert len(weights) == len(biases) == len(meta["sizes"]) - 1
        for k, (w, b) in enumerate(zip(weights, biases)):
            np.testing.assert_array_equal(w, stored[f"w{k}"])
            np.testing.assert_array_equal(b, stored[f"b{k}"])


def test_checkpoint_load_without_a_file_is_none(tmp_path):
    assert checkpoint.load(tmp_path) is None


CHECKPOINT_CASES = {
    "meta 100,000 lists deep": ("meta", np.array(RAW_JSON["deep"])),
    "meta with an integer of 5000 digits": ("meta", np.array('{"format": 1, "sizes": [' + "9" * 5000 + "]}")),
    "a header claiming 10**12 floats": ("w0", npy(np.zeros((3, 4), np.float32), {"shape": (10**12,)})),
    "a header claiming 2**70 floats": ("b0", npy(np.zeros((3, 1), np.float32), {"shape": (2**70,)})),
    "a header claiming 10**9 floats": ("b1", npy(np.zeros((2, 1), np.float32), {"shape": (10**9,)})),
    "a header too long for numpy": ("w1", npy(np.zeros((2, 3), np.float32), {"padding": "x" * 20000})),
    "a header with an unterminated string": ("w1", npy_with_header_text('{"a": """x', bytes(24))),
    "meta with a code point beyond Unicode": ("meta", text_beyond_unicode({"format": "X", "sizes": [2, 1]})),
    "a weight beyond the run's float32": ("w0", np.full((3, 4), 1e308)),
    "a bias as complex numbers": ("b1", np.zeros((2, 1), complex)),
    "an npy file claiming 10**9 floats": (None, npy(np.zeros(16, np.float32), {"shape": (10**9,)})),
}


@pytest.mark.parametrize("case", list(CHECKPOINT_CASES))
def test_checkpoint_load_pinned_corruptions(tmp_path, checkpoint_saved, case):
    name, value = CHECKPOINT_CASES[case]  # name None: the value is the whole file
    path = checkpoint.path_in(tmp_path)
    path.write_bytes(value if name is None else npz({**checkpoint_saved, name: value}))
    _, exc = outcome(lambda: checkpoint.load(tmp_path), checkpoint.CheckpointError, path, path.stat().st_size)
    assert exc is not None
