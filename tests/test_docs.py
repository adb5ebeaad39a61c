"""The README's numbers are the code's numbers: parameter counts in the methods table equal the registry's, and the
shipped-checkpoint table equals the model cards inside the shipped files (a re-exported checkpoint or a changed
architecture must update the front door too)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vsrkit.models import catalogue

README = Path(__file__).resolve().parents[1] / "README.md"


def _table_rows(heading: str) -> list[list[str]]:
    """Cells of the first Markdown table after ``heading`` (header and rule rows dropped)."""
    text = README.read_text()
    start = text.index(heading)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def _numbers(cell: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+", cell)]


def test_readme_parameter_counts_match_the_registry():
    from vsrkit.models.catalogue import model_table

    counts = {row["name"]: row["variants"] for row in model_table()}
    checked = 0
    for cells in _table_rows("## Methods"):
        names = re.findall(r"`(\w+)`", cells[0])
        if not names or names[0] not in counts:
            continue
        variants = counts[names[0]]
        for variant, number in re.findall(r"([\w-]+) ([\d,]{6,})", cells[2]):
            if variant in variants:
                assert int(number.replace(",", "")) == variants[variant], (names[0], variant)
                checked += 1
    assert checked >= 12  # the table was found and read


@pytest.mark.parametrize("name", [n for n in catalogue.SHIPPED if catalogue.shipped_path(n) is not None])
def test_readme_shipped_scores_match_the_model_cards(name):
    rows = {re.findall(r"`(\w+)`", cells[0])[0]: cells for cells in _table_rows("### Shipped checkpoints")}
    if name == "mfdn":  # shares the edvr row: the MFDN alone has no SR score
        assert "mfdn" in " ".join(rows["edvr"])
        return
    cells = rows[name]
    model_cell, bicubic_cell = cells[4], cells[5]
    scores = catalogue.shipped_card(name)["scores"]
    if "model" in scores:
        best = scores.get("adapted", scores["model"])
        expected = [best["psnr_rgb"], best["psnr_y"]]
        expected_bicubic = [scores["bicubic"]["psnr_rgb"], scores["bicubic"]["psnr_y"]]
        if "adapted" in scores:
            expected += [scores["model"]["psnr_rgb"], scores["model"]["psnr_y"]]
    else:  # SR-INR: RGB PSNR at each scale, in the README's order
        order = ["x4", "x2", "x3.5", "x8"]
        expected = [scores[k]["psnr"] for k in order]
        expected_bicubic = [scores[k]["bicubic_psnr"] for k in order]
    assert _numbers(model_cell) == pytest.approx(expected, abs=0.0051), model_cell
    assert _numbers(bicubic_cell) == pytest.approx(expected_bicubic, abs=0.0051), bicubic_cell
