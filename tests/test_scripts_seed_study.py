"""``scripts/seed_study.py`` end to end on a slice, and ``scripts/font_digits.py``: their files, read back."""

from __future__ import annotations

import csv

import numpy as np
from command_helpers import run_main, script
from PIL import Image


def test_seed_study_writes_its_tables_weights_and_unit_report(capsys, tmp_path, mnist):
    out = tmp_path / "study"
    argv = ["--seeds", "0-2", "--sizes", "784", "10", "10", "--epochs", "2", "--n-train", "300",
            "--mode", "JAX", "--device", "cpu", "--out", str(out)]
    status, stdout, err = run_main(script("seed_study").main, argv, capsys)
    assert status == 0, err
    with open(out / "epochs.csv") as f:
        rows = list(csv.DictReader(f))
    with open(out / "summary.csv") as f:
        summary = list(csv.DictReader(f))
    assert [(r["seed"], r["epoch"]) for r in rows] == [(s, e) for s in "012" for e in "01"]
    assert [r["seed"] for r in summary] == ["0", "1", "2"]
    with Image.open(out / "sweep.png") as im:
        assert im.format == "PNG" and im.size == (1300, 480)
    with np.load(out / "weights.npz") as f:
        w1, w2, b1, b2, seeds = f["w1"], f["w2"], f["b1"], f["b2"], f["seeds"]
    assert w1.shape == (3, 10, 784) and seeds.tolist() == [0, 1, 2]
    # Each network's last accuracy, recomputed in numpy from the saved weights, is the one reported.
    _, _, (ex, ey) = mnist
    units = (out / "units.txt").read_text().splitlines()
    assert len(units) == 3
    for k in range(3):
        hidden = 1 / (1 + np.exp(-(ex @ w1[k].T + b1[k])))
        answers = np.argmax(hidden @ w2[k].T + b2[k], axis=1)
        correct = int(np.sum(answers == ey))
        assert correct == int(rows[2 * k + 1]["evaluation_correct"])
        assert units[k].startswith(f"net  {k} seed  {k}: {correct / 10000:7.2%}")
        assert units[k] in stdout


def test_unit_report_names_the_units_that_never_answer():
    seed_study = script("seed_study")
    outputs = np.array([[0.9, 0.1, 0.0], [0.8, 0.3, 0.1], [0.2, 0.7, 0.1], [0.6, 0.5, 0.05]])
    line = seed_study.unit_report(4, 7, outputs, np.array([0, 1, 1, 2]))
    assert line == ("net  4 seed  7:  50.00%  answers per unit 75.0 25.0  0.0  "
                    "max activation per unit 0.90 0.70 0.10  never answers: 2")


def test_font_digits_renders_every_digit_and_refuses_a_missing_model_in_one_line(capsys, tmp_path):
    font_digits = script("font_digits")
    status, out, err = run_main(font_digits.main, ["--out", str(tmp_path / "d"), "--fonts", "DejaVuSans.ttf"],
                                capsys)
    assert status == 0, err
    files = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert len(files) == 30 and "7-DejaVuSans-80.png" in files  # 10 digits x 3 sizes
    assert "30 images" in out
    with Image.open(tmp_path / "d" / "7-DejaVuSans-80.png") as im:
        pixels = np.asarray(im)
    assert im.size == (220, 180) and pixels.min() == 0 and pixels.max() == 255  # ink on paper
    mine = tmp_path / "d" / "7-DejaVuSans-80.png"
    mine.write_bytes(b"the user's own drawing")  # a file of the same name there: refused before any drawing
    argv = ["--out", str(tmp_path / "d"), "--fonts", "DejaVuSans.ttf"]
    status, out, err = run_main(font_digits.main, argv, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "--overwrite" in err, err
    assert mine.read_bytes() == b"the user's own drawing"
    assert run_main(font_digits.main, [*argv, "--overwrite"], capsys)[0] == 0
    assert mine.read_bytes().startswith(b"\x89PNG") and not list((tmp_path / "d").glob(".*.tmp"))
    status, out, err = run_main(font_digits.main, ["--out", str(tmp_path / "e"), "--fonts", "NoSuch*.ttf"],
                                capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "no font matches NoSuch*.ttf" in err
    status, out, err = run_main(font_digits.main, ["--out", str(tmp_path / "f"), "--fonts", "DejaVuSans.ttf",
                                                   "--model", str(tmp_path / "missing.json")], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "missing.json" in err
