"""dlpy35.storage.metadata: what a saved network was trained on, in its JSON, its npz and its ONNX props.

The record goes into every saved kind and comes back equal; the book's own ``network2.load``
still reads the JSON; files of older dlpy35s (no record) load with MNIST's digits assumed; a
damaged record is refused in one line naming the file; and a record is compared with a data set
(what ``evaluate`` refuses).
"""

from __future__ import annotations

import io
import json
import types
import zipfile

import numpy as np
import pytest

from dlpy35 import network, network2, network3
from dlpy35.data.dataset import Dataset
from dlpy35.engine.records import EpochRecord, Evaluation
from dlpy35.storage.metadata import Metadata, MetadataError, dlpy35_version, run_results
from dlpy35.storage.saved_files import SavedFileError


def dataset(name="shapes", n_classes=3, shape=(4, 4), classes=()):
    """A tiny :class:`Dataset`: what a record is taken of (its arrays do not matter here)."""
    x, y = np.zeros((6, shape[0] * shape[1]), np.float32), np.arange(6) % n_classes
    return Dataset((x, y), (x, y), (x, y), n_classes, shape, name, tuple(classes))


SHAPES = dataset(classes=("circle", "square", "triangle"))
MNIST = dataset("MNIST", 10, (28, 28))


# -- the record ---------------------------------------------------------------------------------

def test_a_record_of_a_data_set_has_its_name_classes_shape_and_preparation():
    meta = Metadata.of(SHAPES, {"command": "dlpy35 train"}, {"epochs": 2})
    assert (meta.dataset, meta.image_shape) == ("shapes", (4, 4))
    assert meta.classes == ("circle", "square", "triangle")
    assert meta.preparation is None  # no preparation dlpy35 knows makes 4x4 images
    assert Metadata.of(MNIST).preparation == "mnist" and Metadata.of(MNIST).classes == tuple("0123456789")
    d = meta.to_dict()
    assert d["dlpy35"] == dlpy35_version() and d["training"] == {"command": "dlpy35 train"}
    assert Metadata.from_dict(json.loads(json.dumps(d))) == meta


def test_onnx_props_are_texts_and_read_back_equal():
    meta = Metadata.of(SHAPES, {"command": "x", "args": {"eta": 0.5}}, {"final": {"test": 0.9}})
    props = meta.props()
    assert all(isinstance(v, str) for v in props.values())
    assert props["dataset"] == "shapes" and json.loads(props["classes"]) == ["circle", "square", "triangle"]
    assert "preparation" not in props  # None: left out
    back = Metadata.from_props(props)
    assert back.classes == meta.classes and back.training == meta.training and back.preparation is None
    assert not Metadata.from_props({}).recorded


GOOD = Metadata.of(SHAPES).to_dict()
BAD_RECORDS = {
    "not an object": ([1, 2], "not a dlpy35.metadata record"),
    "another format": ({**GOOD, "format": "other"}, "not a dlpy35.metadata record"),
    "a newer version": ({**GOOD, "version": 2}, "upgrade dlpy35"),
    "classes not a list": ({**GOOD, "classes": "abc"}, "classes must be a list"),
    "a class not a text": ({**GOOD, "classes": ["a", 1, "c"]}, "classes must be a list"),
    "a huge class name": ({**GOOD, "classes": ["a" * 5000, "b", "c"]}, "classes must be a list"),
    "a 3-d shape": ({**GOOD, "image_shape": [4, 4, 1]}, "image_shape must be two positive integers"),
    "a negative shape": ({**GOOD, "image_shape": [4, -4]}, "image_shape must be two positive integers"),
    "a boolean shape": ({**GOOD, "image_shape": [True, 4]}, "image_shape must be two positive integers"),
    "a dataset not a text": ({**GOOD, "dataset": 7}, "dataset must be a text"),
    "training not an object": ({**GOOD, "training": []}, "training must be an object"),
}


@pytest.mark.parametrize("record, words", BAD_RECORDS.values(), ids=BAD_RECORDS)
def test_a_damaged_record_is_refused_in_one_line(record, words):
    with pytest.raises(MetadataError, match=words) as info:
        Metadata.from_dict(record)
    assert "\n" not in str(info.value)


MISMATCHES = {  # (record, data set, None or the words of the refusal)
    "the same data set": (Metadata.of(SHAPES), SHAPES, None),
    "the same name and classes elsewhere": (Metadata.of(SHAPES), dataset(classes=SHAPES.classes), None),
    "another data set": (Metadata.of(MNIST), dataset("fashion", 10, (28, 28)), "trained on MNIST"),
    "other classes": (Metadata.of(SHAPES), dataset(), "classes circle square triangle"),
    "another image size": (Metadata.of(SHAPES), dataset(shape=(5, 5), classes=SHAPES.classes), "4x4 images"),
    "no record, the sizes fit": (Metadata(), MNIST, None),
    "no record, other classes": (Metadata(), dataset("MNIST", 5, (28, 28)), "10 classes"),
}


@pytest.mark.parametrize("meta, data, words", MISMATCHES.values(), ids=MISMATCHES)
def test_a_record_is_compared_with_a_data_set(meta, data, words):
    n_in, n_out = (16, 3) if meta.dataset == "shapes" else (784, 10)
    found = meta.mismatch(data, n_in, n_out)
    if words is None:
        assert found is None
    else:
        assert words in found and data.name in found, found


def test_a_file_without_a_record_is_taken_as_mnists_digits():
    assert not Metadata().recorded
    meta = Metadata().assumed(10)
    assert meta.dataset == "MNIST" and meta.classes == tuple("0123456789")
    assert meta.image_shape == (28, 28) and meta.preparation == "mnist"
    assert Metadata.of(SHAPES).assumed(3) == Metadata.of(SHAPES)


def test_run_results_give_the_final_and_the_best_epoch():
    def record(epoch, validation, test):
        return EpochRecord(epoch, 1.0, 0.1, 0.5, {"validation": Evaluation(validation, 100, 0.0),
                                                  "test": Evaluation(test, 200, 0.0)})

    records = [record(0, 80, 150), record(1, 90, 170), record(2, 90, 180), record(3, 85, 190)]
    assert run_results(records) == {"epochs": 4, "final": {"validation": 0.85, "test": 0.95},
                                    "best": {"epoch": 1, "by": "validation", "validation": 0.9, "test": 0.85}}
    assert run_results(records[:1], {"validation": "held-out"})["final"] == {"held-out": 0.8, "test": 0.75}
    assert run_results([]) == {"epochs": 0}


# -- in the saved files -------------------------------------------------------------------------

def test_the_json_records_it_and_the_books_own_load_still_reads_the_file(tmp_path):
    net = network2.Network([16, 5, 3], seed=1, dtype="float64")
    net.save(tmp_path / "net.json", SHAPES)
    data = json.loads((tmp_path / "net.json").read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost", "metadata"}
    assert data["metadata"]["classes"] == ["circle", "square", "triangle"]
    back = network2.load(tmp_path / "net.json", dtype="float64")
    assert back.metadata == net.metadata and back.metadata.dataset == "shapes"

    # The book's network2.load, line for line but for its module's globals, given here.
    class Network:
        def __init__(self, sizes, cost):
            self.sizes, self.cost = sizes, cost

    book = types.SimpleNamespace(Network=Network, CrossEntropyCost=object(), QuadraticCost=object())
    sys_modules = {"network2": book}
    __name__ = "network2"  # noqa: N806 (the book's module name, for its getattr)
    f = open(tmp_path / "net.json")  # noqa: SIM115 (as the book writes it)
    data = json.load(f)
    f.close()
    cost = getattr(sys_modules[__name__], data["cost"])
    book_net = Network(data["sizes"], cost=cost)
    book_net.weights = [np.array(w) for w in data["weights"]]
    book_net.biases = [np.array(b) for b in data["biases"]]
    assert book_net.cost is book.CrossEntropyCost and book_net.sizes == [16, 5, 3]
    for a, b in zip(book_net.weights + book_net.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)


def test_the_npz_records_it_in_a_text_member(tmp_path):
    layers = [network3.FullyConnectedLayer(16, 6), network3.SoftmaxLayer(6, 3)]
    net = network3.Network(layers, 2, seed=0, mode="JAX", device="cpu")
    meta = Metadata.of(SHAPES, {"command": "dlpy35 train-conv"})
    net.save(tmp_path / "net.npz", meta)
    with zipfile.ZipFile(tmp_path / "net.npz") as z:
        assert "metadata.npy" in z.namelist()
    back = network3.load(tmp_path / "net.npz", mode="JAX", device="cpu")
    assert back.metadata.classes == SHAPES.classes
    assert back.metadata.training == {"command": "dlpy35 train-conv"}
    back.save(tmp_path / "again.npz")  # a loaded network keeps its record
    assert network3.load(tmp_path / "again.npz", mode="JAX", device="cpu").metadata == back.metadata


def test_files_of_an_older_dlpy35_load_with_no_record(tmp_path):
    net = network.Network([16, 5, 3], seed=1)
    net.save(tmp_path / "new.json")
    old = json.loads((tmp_path / "new.json").read_text())
    del old["metadata"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    back = network.load(tmp_path / "old.json")
    assert not back.metadata.recorded and back.metadata.assumed(3).classes == ("0", "1", "2")

    layers = [network3.FullyConnectedLayer(16, 6), network3.SoftmaxLayer(6, 3)]
    net3 = network3.Network(layers, 2, seed=0, mode="JAX", device="cpu")
    spec = {"format": network3.FORMAT, "version": 1, "mini_batch_size": 2, "dtype": "float32",
            "layers": [layer.spec() for layer in layers]}
    buf = io.BytesIO()  # what network3.save wrote before it recorded metadata
    np.savez(buf, spec=np.array(json.dumps(spec)), **{f"p{i}": p for i, p in enumerate(net3.weights)})
    (tmp_path / "old.npz").write_bytes(buf.getvalue())
    assert not network3.load(tmp_path / "old.npz", mode="JAX", device="cpu").metadata.recorded


def test_a_save_of_a_record_that_does_not_fit_the_network_is_refused(tmp_path):
    net = network.Network([16, 5, 4], seed=1)
    with pytest.raises(ValueError, match="3 classes for a network of 4 outputs"):
        net.save(tmp_path / "net.json", SHAPES)
    with pytest.raises(ValueError, match="28x28 images for a network of 16 inputs"):
        network.Network([16, 5, 10], seed=1).save(tmp_path / "net.json", MNIST)
    assert not (tmp_path / "net.json").exists()


@pytest.mark.parametrize("record, words", [
    ({**GOOD, "classes": ["a", "b"]}, "2 classes for a network of 3 outputs"),
    ({**GOOD, "version": "x"}, "version 'x'"),
    ("MNIST", "not a dlpy35.metadata record"),
])
def test_a_damaged_record_in_a_file_is_refused_naming_the_file(record, words, tmp_path):
    network.Network([16, 5, 3], seed=1).save(tmp_path / "net.json")
    data = json.loads((tmp_path / "net.json").read_text())
    (tmp_path / "net.json").write_text(json.dumps({**data, "metadata": record}))
    with pytest.raises(SavedFileError, match=words) as info:
        network.load(tmp_path / "net.json")
    assert str(info.value).startswith(f"{tmp_path / 'net.json'}: its metadata: ")
