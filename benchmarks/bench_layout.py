"""Page analysis on real and synthetic pages: scandex beside Tesseract (--psm 3), same run.

    .venv/bin/python benchmarks/bench_layout.py [--sets dev,ehri,synthetic] [--limit N]
        [--kinds transcript,newspaper,...] [--skip-tesseract] [--model PATH]

Sets (a set whose folder is absent is skipped with a note):
- dev: /work/shared/data/pages/dev, page text only (magazine scans, a multilingual page).
- ehri: /work/shared/data/pages/ehri-typewritten, 18 typewritten pages with page text and
  ALTO line outlines.
- synthetic: one 300 dpi page per failure kind of tests/synth.py (FAILURE_KINDS: transcripts,
  a transcript on pleading paper (since 2026-12-02; the kinds after it moved to the next
  seed), single-spaced typing, type set solid, grey text, shaded and inverted text, a table beside a
  column, a newspaper photo, a band beside a photo, a receipt, a title beside small print)
  and the layouts that worked before (REGRESSION_KINDS), each twice: straight and clean, and
  skewed with uneven light, noise and dust; and carbon_copy, a page typed in Courier on a
  carbon copy whose carbon fades in patches, scanned at 140 dpi to JPEG (synth.carbon_copy_page),
  once; and typed_carbon (since 2026-12-02), the same copy typed key by key as
  bench_finetune's archive is (synth.typed_carbon_page: each letter struck and faded its own
  way), once.

Per page, per engine: **line F1** (a found line matches a true one when their boxes have
IoU >= 0.5, one to one, best IoU first; precision over the found lines, recall over the true
ones), **reading-order CER** (edit distance of the page texts, line by line in the engine's
order, over the reference characters), **bag-of-words WER** (order-free, common.py),
**punctuation recall** (of the punctuation marks in the reference, those in tokens that the
output has verbatim, punctuation included, counted as a multiset like the WER: "A." read as
"A" loses its stop), **photo lines** (found lines whose centre lies inside a photograph of
the synthetic truth, as a share of all lines found) and **rejected** pages (scandex raised
SegmentationError; Tesseract failed or read nothing where there is text). scandex's page
analysis time (CPU ms of analyze_page, one core) is printed per page.

Line truth: synthetic pages know each line's ink box. For the EHRI pages, a line's box is
the box of the dark pixels (Otsu threshold of the page) inside its ALTO outline, with 0.2%
of those pixels trimmed on each side against specks; the outlines themselves are loose
boundaries, not boxes. Stamps, signatures, handwriting and some letterheads are not
transcribed on those pages, so a found line that overlaps no true line is not counted
against either engine there. The dev pages have no line truth (line F1 is "-").

Engines: scandex's ocr_image on the decoded page in this process (OpenCV and onnxruntime on
one thread, the shipped model unless --model); Tesseract 5 as `tesseract IMG - --psm 3 tsv`
with OMP_THREAD_LIMIT=1, its text lines (TSV level 4) in its own order, given --dpi where
the file has none. Text comparison as in common.py (NFC, quotes folded, whitespace runs
collapsed; UNLV `~` is a wildcard).
"""

from __future__ import annotations

from common import single_thread_environment

single_thread_environment()

import argparse  # noqa: E402
import glob  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import peers  # noqa: E402
from common import REPO, comparable, edit_distance, pct, print_table, reproduce_command  # noqa: E402
from common import score as text_score  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "tests"))

from synth import FAILURE_KINDS, carbon_copy_page, render_page, typed_carbon_page  # noqa: E402

from scandex.page import BBox  # noqa: E402

DEV_PAGES = "/work/shared/data/pages/dev"
EHRI_PAGES = "/work/shared/data/pages/ehri-typewritten"
REGRESSION_KINDS = ("letter", "two_column", "headings", "table", "picture", "card")
# Pages that are already scans (one variant each): Courier typeset on a carbon copy, and
# typed key by key on one.
SCANNED_KINDS = {"carbon_copy": carbon_copy_page, "typed_carbon": typed_carbon_page}
SYNTH_DPI = 300
MIN_IOU = 0.5
ENGINES = ("scandex", "tesseract")
_PUNCTUATION = set(".,;:!?'\"()[]-–—/&%*")


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str  # failure kind (synthetic) or set name (real pages)
    path: str
    truth: str
    lines: tuple[BBox, ...] | None = None  # true line boxes, when known
    complete: bool = True  # every text line is in the truth (else unmatched finds are free)
    pictures: tuple[BBox, ...] = ()
    dpi: int | None = None  # told to Tesseract when the file has none


@dataclass(frozen=True)
class Read:
    """What one engine made of one page."""

    lines: tuple[tuple[BBox, str], ...]
    rejected: bool = False
    analysis_ms: float | None = None


@dataclass
class Tally:
    """Counts summed over pages; the rates derive from them."""

    true_lines: int = 0
    found_lines: int = 0
    matched: int = 0
    char_errors: int = 0
    ref_chars: int = 0
    words_missed: int = 0
    ref_words: int = 0
    punct: int = 0
    punct_found: int = 0
    photo_lines: int = 0
    pages: int = 0
    rejected: int = 0
    has_line_truth: bool = False
    has_photos: bool = False
    analysis_ms: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name, value in vars(other).items():
            if isinstance(value, bool):
                setattr(self, name, getattr(self, name) or value)
            elif isinstance(value, list):
                getattr(self, name).extend(value)
            else:
                setattr(self, name, getattr(self, name) + value)

    def f1(self) -> float | None:
        if not self.has_line_truth:
            return None
        precision = self.matched / max(1, self.found_lines)
        recall = self.matched / max(1, self.true_lines)
        return 2 * precision * recall / max(1e-9, precision + recall)


# -- truth -----------------------------------------------------------------------------------


def real_pages(folder: str, kind: str, limit: int | None) -> list[Sample]:
    images = sorted(
        p
        for ext in ("tif", "tiff", "png", "jpg")
        for p in glob.glob(os.path.join(folder, f"*.{ext}"))
    )
    samples = []
    for image in images[:limit]:
        stem = image.rsplit(".", 1)[0]
        truth = Path(stem + ".gt.txt")
        if not truth.exists():
            continue
        alto = Path(stem + ".alto.xml")
        lines = alto_line_boxes(alto, image) if alto.exists() else None
        samples.append(
            Sample(
                Path(stem).name,
                kind,
                image,
                truth.read_text(encoding="utf-8"),
                lines,
                complete=False,
            )
        )
    return samples


def alto_line_boxes(alto: Path, image: str) -> tuple[BBox, ...]:
    """Each ALTO TextLine's box: the dark pixels inside its outline (see the docstring)."""
    from scandex.ocr.io import load_pages

    gray = load_pages(image)[0].gray
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    boxes = []
    for element in ET.parse(alto).getroot().iter():
        if not element.tag.endswith("TextLine"):
            continue
        polygon = next(e for e in element.iter() if e.tag.endswith("Polygon"))
        points = np.array(polygon.get("POINTS", "").split(), np.float64).reshape(-1, 2)
        mask = np.zeros(gray.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
        ys, xs = np.nonzero(mask & ink)
        if len(xs) == 0:
            continue
        x0, x1 = np.percentile(xs, [0.2, 99.8])
        y0, y1 = np.percentile(ys, [0.2, 99.8])
        boxes.append(BBox(int(x0), int(y0), int(x1) + 1, int(y1) + 1))
    return tuple(boxes)


def synthetic_pages(kinds: Sequence[str], folder: Path, dpi: int = SYNTH_DPI) -> list[Sample]:
    """The failure kinds' pages, clean and scanned, drawn at `dpi` (the carbon copy is a
    140 dpi scan whatever `dpi` is); the same pages at every resolution but the scale."""
    samples = []
    for n, kind in enumerate(kinds):
        variants = (("clean", {}), ("scanned", _scanned(n)))
        for variant, degrade in variants if kind not in SCANNED_KINDS else (("scanned", {}),):
            page = (
                SCANNED_KINDS[kind](200 + n)
                if kind in SCANNED_KINDS
                else render_page(kind, dpi=dpi, seed=200 + n, **degrade)
            )
            path = folder / f"{kind}-{variant}.png"
            cv2.imwrite(str(path), page.image)
            samples.append(
                Sample(
                    f"{kind} ({variant})",
                    kind,
                    str(path),
                    "\n".join(line.text for line in page.lines),
                    tuple(line.bbox for line in page.lines),
                    pictures=page.pictures,
                    dpi=page.dpi,
                )
            )
    return samples


def _scanned(n: int) -> dict:
    return {
        "angle_deg": 0.9 if n % 2 else -0.7,
        "illumination": 0.3,
        "noise_sigma": 6.0,
        "speckles": 80,
    }


# -- engines ---------------------------------------------------------------------------------


def read_scandex(sample: Sample, recognizer) -> Read:
    from scandex.errors import SegmentationError
    from scandex.ocr import ocr_image
    from scandex.ocr.analyze import analyze_page
    from scandex.ocr.io import load_pages

    gray = load_pages(sample.path)[0].gray
    start = time.thread_time()
    try:
        analyze_page(gray)
    except SegmentationError as exc:
        print(f"  ! scandex rejected {sample.name}: {exc}")
        return Read((), rejected=True)
    analysis_ms = (time.thread_time() - start) * 1000.0
    page = ocr_image(gray, recognizer=recognizer)
    return Read(tuple((line.bbox, line.text) for line in page.lines), False, analysis_ms)


def read_tesseract(sample: Sample) -> Read:
    try:
        lines, _, _ = peers.tesseract_lines(sample.path, psm=3, dpi=sample.dpi)
    except RuntimeError as exc:
        print(f"  ! tesseract failed on {sample.name}: {exc}")
        return Read((), rejected=True)
    found = tuple((BBox(*line.box), line.text) for line in lines)
    return Read(found, rejected=not found and bool(sample.truth.strip()))


# -- scores ----------------------------------------------------------------------------------


def match_lines(truth: Sequence[BBox], found: Sequence[BBox]) -> tuple[int, int]:
    """(matched pairs, found lines that overlap some true line): one-to-one at IoU >= 0.5,
    best pairs first."""
    pairs = sorted(
        ((t.iou(f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)),
        reverse=True,
    )
    used_t, used_f = set(), set()
    for iou, i, j in pairs:
        if iou < MIN_IOU:
            break
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    overlapping = sum(1 for f in found if any(t.intersection_area(f) > 0 for t in truth))
    return len(used_t), overlapping


def punctuation_counts(reference: str, hypothesis: str) -> tuple[int, int]:
    """(punctuation marks in the reference, those in tokens the hypothesis has verbatim)."""
    ref = Counter(t for t in reference.split() if _PUNCTUATION.intersection(t))
    hyp = Counter(hypothesis.split())
    total = sum(_marks(t) * n for t, n in ref.items())
    found = sum(_marks(t) * min(n, hyp[t]) for t, n in ref.items())
    return total, found


def _marks(token: str) -> int:
    return sum(1 for ch in token if ch in _PUNCTUATION)


def tally(sample: Sample, read: Read) -> Tally:
    """One engine's counts on one page (found_lines counts every line found where the page
    has no line truth, for the share of photo lines)."""
    ref = comparable(sample.truth, unlv_tildes=True)
    hyp = comparable("\n".join(text for _, text in read.lines))
    text = text_score(ref, hyp)
    punct, punct_found = punctuation_counts(ref, hyp)
    boxes = [box for box, _ in read.lines]
    out = Tally(
        char_errors=edit_distance(ref, hyp),
        ref_chars=text.ref_chars,
        words_missed=text.words_missed,
        ref_words=text.ref_words,
        punct=punct,
        punct_found=punct_found,
        pages=1,
        rejected=int(read.rejected),
        has_photos=bool(sample.pictures),
        analysis_ms=[read.analysis_ms] if read.analysis_ms is not None else [],
        found_lines=len(boxes),
    )
    if sample.lines is not None:
        matched, overlapping = match_lines(sample.lines, boxes)
        out.has_line_truth = True
        out.true_lines = len(sample.lines)
        out.found_lines = len(boxes) if sample.complete else overlapping
        out.matched = matched
    for box in boxes:
        cx, cy = box.center
        if any(p.x0 <= cx < p.x1 and p.y0 <= cy < p.y1 for p in sample.pictures):
            out.photo_lines += 1
    return out


# -- report ----------------------------------------------------------------------------------


def _cells(t: Tally) -> list[str]:
    f1 = t.f1()
    photo = pct(t.photo_lines / max(1, t.found_lines)) if t.has_photos else "-"
    return [
        "-" if f1 is None else f"{f1:.3f}",
        pct(t.char_errors / max(1, t.ref_chars)),
        pct(t.words_missed / max(1, t.ref_words)),
        pct(t.punct_found / t.punct) if t.punct else "-",
        photo,
        str(t.rejected),
    ]


METRICS = ("line F1", "order CER", "BoW WER", "punct recall", "photo lines", "rejected")


def print_rows(title: str, rows: list[tuple[str, dict[str, Tally]]], engines: Sequence[str]):
    """One row per page or kind; each metric's cell is "scandex / tesseract"."""
    header = ["page", *METRICS, "scandex ms"]
    table = []
    for label, tallies in rows:
        cells = [_cells(tallies[e]) for e in engines]
        row = [label] + [" / ".join(c[m] for c in cells) for m in range(len(METRICS))]
        ms = tallies["scandex"].analysis_ms
        row.append(f"{np.median(ms):.0f}" if ms else "-")
        table.append(row)
    print_table(f"{title} ({' / '.join(engines)})", header, table)


def run_set(title: str, samples: Sequence[Sample], engines: Sequence[str], recognizer) -> None:
    if not samples:
        print(f"\n{title}: no pages; skipped")
        return
    per_page: list[tuple[str, dict[str, Tally]]] = []
    by_kind: dict[str, dict[str, Tally]] = {}
    total = {e: Tally() for e in engines}
    for sample in samples:
        tallies = {}
        for engine in engines:
            if engine == "scandex":
                read = read_scandex(sample, recognizer)
            else:
                read = read_tesseract(sample)
            tallies[engine] = tally(sample, read)
            by_kind.setdefault(sample.kind, {e: Tally() for e in engines})[engine].add(
                tallies[engine]
            )
            total[engine].add(tallies[engine])
        per_page.append((sample.name, tallies))
    print_rows(f"{title}: per page", per_page, engines)
    if len(by_kind) > 1:
        print_rows(f"{title}: per failure kind", list(by_kind.items()), engines)
    print_rows(f"{title}: all pages", [("ALL", total)], engines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="dev,ehri,synthetic")
    parser.add_argument(
        "--kinds",
        default=",".join(FAILURE_KINDS + ("carbon_copy",) + REGRESSION_KINDS + ("typed_carbon",)),
    )
    parser.add_argument("--limit", type=int, help="at most N pages of each real set")
    parser.add_argument(
        "--synthetic-dpi",
        type=int,
        default=SYNTH_DPI,
        help="draw the synthetic pages at this resolution (150 and 200: scans below 300 dpi)",
    )
    parser.add_argument("--model", help="scandex ONNX model (default: the shipped one)")
    parser.add_argument("--skip-tesseract", action="store_true")
    parser.add_argument("--dev-pages", default=DEV_PAGES)
    parser.add_argument("--ehri-pages", default=EHRI_PAGES)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(1)
    from scandex.ocr import get_recognizer

    recognizer = get_recognizer(Path(args.model) if args.model else None, 1)
    version = None if args.skip_tesseract else peers.tesseract_version()
    engines = ["scandex"] + (["tesseract"] if version else [])
    print(f"command: {reproduce_command()}")
    print(f"scandex model: {args.model or 'shipped (scandex/models/en.onnx)'}")
    print(f"tesseract: {version or 'skipped'} (--psm 3)")
    sets = args.sets.split(",")
    for name, folder in (("dev", args.dev_pages), ("ehri", args.ehri_pages)):
        if name not in sets:
            continue
        if Path(folder).is_dir():
            run_set(f"{name} ({folder})", real_pages(folder, name, args.limit), engines, recognizer)
        else:
            print(f"\n{name}: {folder} is absent; skipped")
    if "synthetic" in sets:
        kinds = [k for k in args.kinds.split(",") if k]
        with tempfile.TemporaryDirectory(prefix="scandex-bench-layout-") as tmp:
            samples = synthetic_pages(kinds, Path(tmp), args.synthetic_dpi)
            run_set(f"synthetic ({args.synthetic_dpi} dpi)", samples, engines, recognizer)
    print(f"\nreproduce: {reproduce_command()}")


if __name__ == "__main__":
    main()
