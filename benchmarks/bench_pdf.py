"""PDF in, searchable PDF out: scandex beside OCRmyPDF (Tesseract) on the same PDFs.

    .venv/bin/python benchmarks/bench_pdf.py [--synthetic N] [--skip-ocrmypdf]

Inputs: the dev page scans (/work/shared/data/pages/dev, when present) and N synthetic
300 dpi pages with known text (tests/synth.py), each wrapped into a one-page PDF by img2pdf
(the scan embedded as it is, as a scanner writes it). For each:

- scandex, image: `ocr_file` on the image file (the pages-as-images baseline);
- scandex, PDF: `ocr_pdf` on the PDF (the scan extracted from the PDF, then the same OCR),
  then `searchable_pdf` (the text layer added onto the original page);
- OCRmyPDF: `ocrmypdf --output-type pdf --jobs 1` (Tesseract 5, one thread; its start-up is
  inside its time, as a watch folder would pay it per file).

Printed: seconds per page for each, the searchable PDF's size against the input's, and words
recovered from each searchable PDF by poppler's `pdftotext` against the ground truth
(order-free word error rate, common.score, so reading order does not count). All on one
core (OMP/OpenBLAS threads 1), measured in one run.
"""

from __future__ import annotations

from common import single_thread_environment

single_thread_environment()

import argparse  # noqa: E402
import glob  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from common import REPO, comparable, pct, print_table, reproduce_command, score  # noqa: E402

DEV_PAGES = "/work/shared/data/pages/dev"
SYNTH_LAYOUTS = ("one_column", "two_column", "letter", "table")


def samples(folder: Path, synthetic: int) -> list[tuple[str, Path, str]]:
    """(name, image file, ground truth) for the dev scans and `synthetic` rendered pages."""
    import cv2

    sys.path.insert(0, os.path.join(REPO, "tests"))
    from synth import render_page

    out = []
    for image in sorted(glob.glob(os.path.join(DEV_PAGES, "*.tif"))):
        truth = Path(image).with_suffix(".gt.txt")
        if truth.exists():
            out.append((Path(image).stem, Path(image), truth.read_text(encoding="utf-8")))
    for n in range(synthetic):
        layout = SYNTH_LAYOUTS[n % len(SYNTH_LAYOUTS)]
        page = render_page(layout, dpi=300, angle_deg=0.6, noise_sigma=6.0, seed=100 + n)
        path = folder / f"synth-{layout}-{n}.png"
        cv2.imwrite(str(path), page.image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        # PNG says no dpi: img2pdf would size it at 96 dpi; JPEG at 300 dpi like a scanner.
        jpeg = path.with_suffix(".jpg")
        cv2.imwrite(str(jpeg), page.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        _set_jfif_dpi(jpeg, 300)
        path.unlink()
        out.append((jpeg.stem, jpeg, "\n".join(line.text for line in page.lines)))
    return out


def _set_jfif_dpi(path: Path, dpi: int) -> None:
    data = bytearray(path.read_bytes())
    if data[6:11] == b"JFIF\x00":  # units 1 (dpi), x and y density
        data[13] = 1
        data[14:18] = dpi.to_bytes(2, "big") * 2
        path.write_bytes(bytes(data))


def pdftotext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", type=int, default=4, help="synthetic pages (default 4)")
    parser.add_argument("--skip-ocrmypdf", action="store_true")
    args = parser.parse_args()

    import img2pdf

    from scandex.ocr import OcrParams, get_recognizer, ocr_file
    from scandex.pdf.ocr import ocr_pdf
    from scandex.pdf.writer import searchable_pdf

    ocrmypdf = shutil.which("ocrmypdf") or os.path.join(os.path.dirname(sys.executable), "ocrmypdf")
    use_ocrmypdf = not args.skip_ocrmypdf and os.path.exists(ocrmypdf)
    if shutil.which("pdftotext") is None:
        sys.exit("pdftotext (poppler-utils) is needed to read the searchable PDFs")
    get_recognizer(None, 1, OcrParams().lexicon)  # the model is loaded before timing

    rows, totals = [], {"image": 0.0, "pdf": 0.0, "write": 0.0, "ocrmypdf": 0.0}
    sizes = {"in": 0, "scandex": 0, "ocrmypdf": 0}
    scores: dict[str, list] = {"scandex": [], "ocrmypdf": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = samples(folder, args.synthetic)
        for name, image, truth in cases:
            pdf_in = folder / f"{name}.pdf"
            pdf_in.write_bytes(img2pdf.convert(str(image)))
            started = time.perf_counter()
            ocr_file(image)
            image_seconds = time.perf_counter() - started
            data = pdf_in.read_bytes()
            started = time.perf_counter()
            result = ocr_pdf(data, str(pdf_in))
            pdf_seconds = time.perf_counter() - started
            started = time.perf_counter()
            ours = folder / f"{name}.scandex.pdf"
            ours.write_bytes(searchable_pdf(data, result.document.pages))
            write_seconds = time.perf_counter() - started
            reference = comparable(truth)
            ours_score = score(reference, comparable(pdftotext(ours)))
            scores["scandex"].append(ours_score)
            theirs_seconds, theirs_wer, theirs_size = None, None, None
            if use_ocrmypdf:
                theirs = folder / f"{name}.ocrmypdf.pdf"
                started = time.perf_counter()
                subprocess.run(
                    [
                        ocrmypdf,
                        "--output-type",
                        "pdf",
                        "--jobs",
                        "1",
                        "-q",
                        str(pdf_in),
                        str(theirs),
                    ],
                    check=True,
                    env={**os.environ, "OMP_THREAD_LIMIT": "1"},
                )
                theirs_seconds = time.perf_counter() - started
                theirs_score = score(reference, comparable(pdftotext(theirs)))
                scores["ocrmypdf"].append(theirs_score)
                theirs_wer, theirs_size = theirs_score.wer, theirs.stat().st_size
                totals["ocrmypdf"] += theirs_seconds
                sizes["ocrmypdf"] += theirs_size
            totals["image"] += image_seconds
            totals["pdf"] += pdf_seconds
            totals["write"] += write_seconds
            sizes["in"] += pdf_in.stat().st_size
            sizes["scandex"] += ours.stat().st_size
            rows.append(
                [
                    name,
                    f"{image_seconds:.2f}",
                    f"{pdf_seconds:.2f}",
                    f"{write_seconds:.3f}",
                    "-" if theirs_seconds is None else f"{theirs_seconds:.2f}",
                    f"{pdf_in.stat().st_size / 1e3:.0f}",
                    f"{100 * (ours.stat().st_size / pdf_in.stat().st_size - 1):+.1f}%",
                    "-"
                    if theirs_size is None
                    else f"{100 * (theirs_size / pdf_in.stat().st_size - 1):+.1f}%",
                    pct(ours_score.wer),
                    pct(theirs_wer),
                ]
            )
    pages = len(rows)
    rows.append(
        [
            f"all {pages} pages",
            f"{totals['image'] / pages:.2f}",
            f"{totals['pdf'] / pages:.2f}",
            f"{totals['write'] / pages:.3f}",
            f"{totals['ocrmypdf'] / pages:.2f}" if use_ocrmypdf else "-",
            f"{sizes['in'] / 1e3:.0f}",
            f"{100 * (sizes['scandex'] / sizes['in'] - 1):+.1f}%",
            f"{100 * (sizes['ocrmypdf'] / sizes['in'] - 1):+.1f}%" if use_ocrmypdf else "-",
            pct(_pooled(scores["scandex"])),
            pct(_pooled(scores["ocrmypdf"])) if use_ocrmypdf else "-",
        ]
    )
    print_table(
        "PDF in, searchable PDF out (seconds per page on one core; size change of the searchable"
        " PDF against the input PDF; order-free WER of pdftotext's words against the truth)",
        [
            "page",
            "scandex image s",
            "scandex PDF s",
            "+ write s",
            "OCRmyPDF s",
            "input kB",
            "scandex size",
            "OCRmyPDF size",
            "scandex WER",
            "OCRmyPDF WER",
        ],
        rows,
    )
    print(f"\nreproduce: {reproduce_command()}")


def _pooled(scores: list) -> float | None:
    words = sum(s.ref_words for s in scores)
    return sum(s.words_missed for s in scores) / words if words else None


if __name__ == "__main__":
    main()
