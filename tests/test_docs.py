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
    if "epe_1_4" in scores:  # a flow network: its known-shift EPE (px) on the held-out frame
        assert _numbers(model_cell) == pytest.approx([scores["epe_1_4"]], abs=0.0051), model_cell
        return
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


@pytest.mark.parametrize("name", [n for n in catalogue.SHIPPED if catalogue.shipped_path(n) is not None])
def test_readme_test_split_table_matches_the_model_cards(name):
    """The README's test-split table holds each card's ``test_scores`` (issue 16: every shipped model against
    bicubic on clips no decision used); an entry scored on the test split must appear there."""
    test = catalogue.shipped_card(name).get("test_scores")
    if not test:
        pytest.skip(f"{name}: its card holds no test-split scores (python benchmarks/shipped_scores.py --test "
                    f"--model {name} --write-cards)")
    rows = {re.findall(r"`(\w+)`", cells[0])[0]: cells for cells in _table_rows("**Every shipped model on the test split**")}
    cells = rows[name]
    if "images" in test:  # SR-INR: RGB PSNR per scale, model then bicubic
        order = ["x4", "x2", "x3.5", "x8"]
        assert _numbers(cells[2]) == pytest.approx([test["images"][k]["psnr"] for k in order], abs=0.0051)
        assert _numbers(cells[3]) == pytest.approx([test["images"][k]["bicubic_psnr"] for k in order], abs=0.0051)
        return
    mean = test["mean"]
    best = "adapted" if "adapted" in mean else "model"
    for cell, method in zip(cells[2:5], (best, "bicubic", "lanczos")):
        assert _numbers(cell) == pytest.approx([mean[method]["psnr_rgb"], mean[method]["psnr_y"]], abs=0.0051), cell
    gains = [row[best]["psnr_y"] - row["bicubic"]["psnr_y"] for row in test["clips"].values()]
    expected = [mean[best]["psnr_y"] - mean["bicubic"]["psnr_y"], min(gains)]
    signed = [float(x.replace("−", "-")) for x in re.findall(r"[+−-]\d+\.\d+", cells[5])]
    assert signed == pytest.approx(expected, abs=0.011), cells[5]


# ----------------------------------------------------------------------------------------------------------------
# Docs that stand alone: what the package cites is in the repository
# ----------------------------------------------------------------------------------------------------------------
ROOT = README.parent
PACKAGE_FILES = sorted((ROOT / "vsrkit").rglob("*.py"))
# Signs of a citation a reader of the repository cannot follow: absolute or shared paths, "reference §…", a bare
# document name outside docs/ (``fma-net.md``), and the evidence tags of private notes ("[P]", "[C]", "[M]", "[I]").
OUTSIDE = re.compile(r"/work/|shared/|reference/|\breference §|\breference ``|(?<![/\w.-])(?!README\.md)[\w-]+\.md\b"
                     r"|\[[PCMI]\]")


def _cited_documents() -> list[tuple[str, str]]:
    """(file, cited path) for every ``something.md`` named in the package's source."""
    found = []
    for path in PACKAGE_FILES:
        for name in re.findall(r"[\w./-]*\.md\b", path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), name))
    return found


def _heading_numbers(doc: Path) -> set[str]:
    """Section numbers of a doc's headings: ``## 3. Degradations`` → ``3``, ``### 3.1 BI`` → ``3.1``."""
    return {m.group(1).rstrip(".") for m in re.finditer(r"^#+ (\d+(?:\.\d+)*)\.? ", doc.read_text(), re.M)}


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_package_cites_only_documents_in_the_repository():
    assert _cited_documents(), "the scan found no citation at all: the pattern is broken"
    missing = [f"{where} cites {name}" for where, name in _cited_documents()
               if not (ROOT / name).is_file()]
    assert not missing, "cited documents that are not in the repository:\n" + "\n".join(missing)
    outside = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in PACKAGE_FILES
               for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if OUTSIDE.search(line)]
    assert not outside, "citations of documents outside the repository:\n" + "\n".join(outside)


def test_cited_doc_sections_exist():
    checked = 0
    for path in PACKAGE_FILES:
        text = path.read_text(encoding="utf-8")
        for doc, first, last in re.findall(r"(docs/[\w-]+\.md)`{0,2} §(\d+(?:\.\d+)*)(?:[–-](\d+(?:\.\d+)*))?", text):
            numbers = _heading_numbers(ROOT / doc)
            for number in filter(None, (first, last)):
                assert number in numbers, f"{path.relative_to(ROOT)} cites {doc} §{number}, which has no such section"
                checked += 1
    assert checked >= 20


def test_links_between_docs_resolve():
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for target, anchor in re.findall(r"\]\(([\w./-]+\.md)(?:#([\w-]+))?\)", doc.read_text()):
            linked = (doc.parent / target).resolve()
            assert linked.is_file(), f"{doc.name} links to {target}, which does not exist"
            if anchor:
                slugs = {_slug(m) for m in re.findall(r"^#+ (.+)$", linked.read_text(), re.M)}
                assert anchor in slugs, f"{doc.name} links to {target}#{anchor}, which has no such heading"
