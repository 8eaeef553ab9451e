"""Line recognizer benchmark: scandex side by side with Tesseract 5 and RapidOCR.

    .venv/bin/python benchmarks/bench_recognizer.py [--model PATH] [--compare-model OLD.onnx]
        [--limit N] [--skip-rapidocr] [--skip-tesseract]

Prints, for scandex read greedily (lexicon off) and with lexicon decoding (the default path),
beside the peers measured in the same run:
(a) CER and word error rate on the real dev line sets (uw3-dev, ehri-typewritten-dev,
    jls-letters-dev), each read when present;
(b) CER on synthetic lines rendered in the fonts held out of training (Carlito, P052,
    Courier Prime*), clean and degraded, by family, plus ALL-CAPS and typewriter-font lines;
(b2) CER and WER on synthetic French, German and Spanish lines (held-out fonts, degraded),
    read with the default word lists (a choice of languages per `recognize` call) and with
    the English list alone;
(c) calibration of scandex's word confidences on the real sets (expected calibration error);
(d) lines per second on one core on the UW-III dev lines;
(e) the model file's size.
With --compare-model, an older model's greedy and lexicon columns join (a), (b), (c) and (d).
See benchmarks/README.md for what each figure means and how the peers are set up.

One core: scandex runs in this process with onnxruntime and OpenCV at one thread, lines
already decoded in memory, one `recognize` call for the whole set (its own width batching,
normalization and CTC decoding, and the lexicon's rescoring, included), best of --repeat
runs. Tesseract runs with OMP_THREAD_LIMIT=1; RapidOCR in its own environment with
onnxruntime at one thread. Both wall and CPU seconds are printed; on a machine busy with
other work, CPU seconds are the fairer.
"""

from __future__ import annotations

from common import single_thread_environment

single_thread_environment()

import argparse  # noqa: E402
import csv  # noqa: E402
import glob  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import peers  # noqa: E402
from common import (  # noqa: E402
    align_words,
    comparable,
    edit_distance,
    expected_calibration_error,
    frozen_texts,
    pct,
    print_table,
    reproduce_command,
    word_errors,
)

LINES_DIR = "/work/shared/data/lines"
REAL_SETS = ("uw3-dev", "ehri-typewritten-dev", "jls-letters-dev")
SPEED_SET = "uw3-dev"  # 300 dpi print, the set the speed target is stated on
# The UW-III PNGs say 100 dpi but are 300 dpi scans. The other sets' PNGs carry no resolution
# and Tesseract estimates one (telling it 300 gave the same output on both sets).
TESSERACT_DPI = {"uw3-dev": 300}
SYNTH_DPI = 300
TRAIN_RUNS = "/work/train-runs"
SYNTH_SEED = 20261125  # the synthetic lines' fonts, sizes and damage (texts: frozen_texts)
CALIBRATION_BINS = 10
OTHER_LANGUAGES = ("fr", "de", "es")  # (b2)


@dataclass(frozen=True)
class LineSample:
    image: np.ndarray  # uint8 gray, 255 = paper
    text: str  # ground truth as written
    path: str  # the same image on disk, for the peers
    line_type: str = ""  # real sets: the manifest's line_type (jls: Typewritten or Print)
    family: str = ""  # synthetic only: held-out font family
    degraded: bool = False
    caps: bool = False
    language: str = ""  # (b2) only: the language of the line's words

    @property
    def typewriter(self) -> bool:
        return self.family.startswith("Courier")


# -- data ------------------------------------------------------------------------------------


def _line_types(folder: Path) -> dict[str, str]:
    """Line name -> line_type from the set's manifest, where it has that column."""
    manifest = folder / "manifest.tsv"
    if not manifest.exists():
        return {}
    with manifest.open(encoding="utf-8", newline="") as rows:
        return {
            row["name"]: row["line_type"]
            for row in csv.DictReader(rows, delimiter="\t")
            if row.get("line_type")
        }


def load_line_set(folder: Path, limit: int | None) -> list[LineSample]:
    """The first `limit` lines (by name) that have both an image and a transcript."""
    from scandex.ocr.io import load_pages

    types = _line_types(folder)
    samples = []
    for png in sorted(folder.glob("*.png"))[:limit]:
        truth = png.with_name(png.name[: -len(".png")] + ".gt.txt")
        if truth.exists():
            gray = load_pages(str(png))[0].gray  # alpha composited on white, like the engine
            text = truth.read_text(encoding="utf-8").strip()
            samples.append(LineSample(gray, text, str(png), types.get(png.stem, "")))
    return samples


def load_real_sets(lines_dir: str, limit: int | None) -> dict[str, list[LineSample]]:
    sets = {}
    for name in REAL_SETS:
        folder = Path(lines_dir, name)
        samples = load_line_set(folder, limit) if folder.is_dir() else []
        if samples:
            sets[name] = samples
        else:
            print(f"  ! {folder} is absent or has no lines; {name} skipped")
    return sets


def _held_out_families() -> dict[str, list]:
    from scandex.training.fonts import HELD_OUT_FAMILIES, find_fonts, split_fonts

    _, test_faces = split_fonts(find_fonts())
    return {
        family + ("*" if family == "Courier Prime" else ""): [
            f for f in test_faces if f.family.startswith(family)
        ]
        for family in sorted(HELD_OUT_FAMILIES)
    }


def _renderable_text(texts: Iterator[str], face, *, caps: bool) -> str:
    """The next of the frozen texts that the face can draw entirely with real glyphs."""
    from scandex.ocr.codec import DEFAULT_ALPHABET, normalize_text
    from scandex.training.render import supported_characters

    supported = supported_characters(face.path, DEFAULT_ALPHABET)
    for _ in range(50):
        text = normalize_text(next(texts))
        text = text.upper() if caps else text
        if text.strip() and set(text) <= supported:
            return text
    return "".join(ch for ch in text if ch in supported).strip() or "TEXT"


def _crop(image: np.ndarray, ink: np.ndarray, margin_frac: float = 0.25) -> np.ndarray:
    """Cut the line out around the drawn (undegraded) ink, with a margin of a quarter of its
    height on every side, like a segmenter's line image: specks and noise do not widen it,
    and no line is cut flush to its ink (that would handicap Tesseract unfairly)."""
    mask = ink > 0.5
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return image
    margin = max(2, round(margin_frac * (rows[-1] - rows[0] + 1)))
    top, left = max(0, rows[0] - margin), max(0, cols[0] - margin)
    return image[top : rows[-1] + 1 + margin, left : cols[-1] + 1 + margin]


def _clean_image(ink: np.ndarray) -> np.ndarray:
    return _crop(np.clip(255.0 * (1.0 - ink), 0, 255).astype(np.uint8), ink)


def _degraded_image(ink: np.ndarray, rng: random.Random, typewriter: bool) -> np.ndarray:
    from scandex.training.render import degrade, warp_line

    # Cut around the ink where the tilt put it: cut around the level ink, the ends of a
    # long tilted line lost their tops or bottoms to the crop, and no reader could read them.
    warped = warp_line(ink, rng)
    return _crop(degrade(warped, rng, typewriter=typewriter, warp=False), warped)


def synthetic_lines(
    per_family: int, folder: Path, seed: int = SYNTH_SEED, first_text: int = 0
) -> list[LineSample]:
    """Each text rendered twice in the same face and size, clean and degraded; a third as many
    ALL-CAPS texts on top. Font size 24..56 px (8..13 pt at 300 dpi). The texts are the frozen
    texts from the `first_text`-th on (bench_select.py reads others than this benchmark)."""
    from scandex.training.render import draw_text

    rng = random.Random(seed)
    texts = iter(frozen_texts()[first_text:])
    samples: list[LineSample] = []
    for family, faces in _held_out_families().items():
        plan = [False] * per_family + [True] * max(1, per_family // 3)
        for k, caps in enumerate(plan):
            face = faces[k % len(faces)]
            text = _renderable_text(texts, face, caps=caps)
            ink = draw_text(text, face, rng.randint(24, 56), rng)
            for degraded in (False, True):
                image = (
                    _degraded_image(ink, rng, family.startswith("Courier"))
                    if degraded
                    else _clean_image(ink)
                )
                path = folder / f"{len(samples):05d}.png"
                cv2.imwrite(str(path), image)
                samples.append(
                    LineSample(image, text, str(path), family=family, degraded=degraded, caps=caps)
                )
    return samples


def other_language_lines(
    per_language: int, folder: Path, seed: int = SYNTH_SEED
) -> list[LineSample]:
    """(b2): lines of French, German and Spanish words (drawn by frequency from wordfreq's
    lists, as the training text draws them; wordfreq's lists are also what the word lists
    are built from, so every word here is listed: real text holds some that are not) in the
    held-out faces, degraded as in (b)."""
    from scandex.training.render import draw_text
    from scandex.training.text import TextSource

    rng = random.Random(seed)
    families = _held_out_families()
    names = sorted(families)
    samples: list[LineSample] = []
    for language in OTHER_LANGUAGES:
        source = TextSource(seed=seed, other_languages=(language,))
        texts = (source.other_language_line(rng.randint(20, 70)) for _ in itertools.count())
        for k in range(per_language):
            family = names[k % len(names)]
            face = families[family][k % len(families[family])]
            text = _renderable_text(texts, face, caps=False)
            ink = draw_text(text, face, rng.randint(24, 56), rng)
            image = _degraded_image(ink, rng, family.startswith("Courier"))
            path = folder / f"{language}-{k:04d}.png"
            cv2.imwrite(str(path), image)
            samples.append(
                LineSample(image, text, str(path), family=family, degraded=True, language=language)
            )
    return samples


# -- engines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One scandex configuration under test: a model, with or without the lexicon."""

    name: str  # column heading, e.g. "scandex lexicon"
    recognizer: object  # scandex.ocr.recognize.Recognizer


@dataclass
class Reads:
    """What every engine made of one set of lines."""

    timed: dict[str, peers.Timed | None]  # engine run ("tesseract list", ...) -> texts, cost
    results: dict[str, list]  # scandex variant name -> its LineResults (words, confidences)


def find_model(requested: str | None) -> Path:
    from scandex.ocr.recognize import default_model_path

    if requested:
        return Path(requested)
    if default_model_path().exists():
        return default_model_path()
    runs = sorted(glob.glob(os.path.join(TRAIN_RUNS, "*", "best.onnx")), key=os.path.getmtime)
    if runs:
        return Path(runs[-1])
    raise SystemExit("no model: the package has no en.onnx yet; pass --model PATH")


def scandex_variants(model: Path, old_model: Path | None, lexicon) -> list[Variant]:
    """Greedy and lexicon decoding of the model under test, then of the old one if given."""
    from scandex.ocr.recognize import Recognizer

    models = [("scandex", model)] + ([("old", old_model)] if old_model else [])
    return [
        Variant(f"{prefix} {mode}", Recognizer(path, threads=1, lexicon=words))
        for prefix, path in models
        for mode, words in (("greedy", None), ("lexicon", lexicon))
    ]


def scandex_read(
    recognizer, images: Sequence[np.ndarray], *, repeat: int = 1, warm_up: bool = False
) -> tuple[peers.Timed, list]:
    """One `recognize` call over all lines, the fastest of `repeat`; `warm_up` first reads a
    few lines untimed (onnxruntime does first-call work)."""
    if warm_up:
        recognizer.recognize(images[:8])
    best: tuple[float, float, list] | None = None
    for _ in range(max(1, repeat)):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        results = recognizer.recognize(images)
        wall_s, cpu_s = time.perf_counter() - wall0, time.process_time() - cpu0
        if best is None or wall_s < best[0]:
            best = (wall_s, cpu_s, results)
    wall_s, cpu_s, results = best
    timed = peers.Timed([r.text for r in results], wall_s, cpu_s, "in-process, one recognize()")
    return timed, results


def _try(name: str, run: Callable[[], peers.Timed | None]) -> peers.Timed | None:
    try:
        return run()
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"  ! {name} skipped: {exc}")
        return None


def read_all(
    samples: Sequence[LineSample],
    variants: Sequence[Variant],
    args,
    *,
    timing: bool,
    tesseract_dpi: int | None,
) -> Reads:
    """Every engine's reading of the lines; with `timing`, the extra runs the speed table needs."""
    images = [s.image for s in samples]
    paths = [s.path for s in samples]
    reads = Reads({}, {})
    for variant in variants:
        timed, results = scandex_read(
            variant.recognizer, images, repeat=args.repeat if timing else 1, warm_up=timing
        )
        reads.timed[variant.name], reads.results[variant.name] = timed, results
    if args.tesseract:
        reads.timed["tesseract list"] = _try(
            "tesseract list", lambda: peers.tesseract_list(paths, psm=7, dpi=tesseract_dpi)
        )
        if timing or reads.timed["tesseract list"] is None:
            reads.timed["tesseract each"] = _try(
                "tesseract", lambda: peers.tesseract_each(paths, psm=7, dpi=tesseract_dpi)
            )
    if args.rapidocr_python:
        py = args.rapidocr_python
        reads.timed["rapidocr"] = _try(
            "rapidocr", lambda: peers.rapidocr(paths, mode="lines", python=py)
        )
        if timing:
            reads.timed["rapidocr batch"] = _try(
                "rapidocr batch", lambda: peers.rapidocr_line_batch(paths, python=py)
            )
    return reads


def _texts(reads: Reads, engine: str) -> list[str] | None:
    for key in (engine, f"{engine} list", f"{engine} each"):
        if reads.timed.get(key) is not None:
            return reads.timed[key].texts
    return None


# -- accuracy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineScore:
    """Character and word edit counts, summed over lines; the rates derive from them."""

    char_errors: int = 0
    ref_chars: int = 0
    word_errors: int = 0
    ref_words: int = 0

    def __add__(self, other: LineScore) -> LineScore:
        return LineScore(
            self.char_errors + other.char_errors,
            self.ref_chars + other.ref_chars,
            self.word_errors + other.word_errors,
            self.ref_words + other.ref_words,
        )

    @property
    def cer(self) -> float:
        return self.char_errors / max(1, self.ref_chars)

    @property
    def wer(self) -> float:
        return self.word_errors / max(1, self.ref_words)


def line_score(reference: str, hypothesis: str) -> LineScore:
    ref, hyp = comparable(reference), comparable(hypothesis)
    return LineScore(edit_distance(ref, hyp), len(ref), *word_errors(ref, hyp))


def scores_by_engine(
    samples: Sequence[LineSample], reads: Reads, engines: Sequence[str]
) -> dict[str, list[LineScore] | None]:
    table: dict[str, list[LineScore] | None] = {}
    for engine in engines:
        texts = _texts(reads, engine)
        table[engine] = (
            None
            if texts is None
            else [line_score(s.text, t) for s, t in zip(samples, texts, strict=True)]
        )
    return table


Group = tuple[str, Callable[[LineSample], bool]]


def _total(scores: list[LineScore] | None, keep: Sequence[bool]) -> LineScore | None:
    if scores is None:
        return None
    return sum((s for s, k in zip(scores, keep, strict=True) if k), LineScore())


def accuracy_rows(
    samples: Sequence[LineSample],
    scores: dict[str, list[LineScore] | None],
    groups: Sequence[Group],
    rate: Callable[[LineScore], float],
) -> list[list[object]]:
    """One row per group that has lines: its size, then `rate` for every engine."""
    rows = []
    for label, belongs in groups:
        keep = [belongs(s) for s in samples]
        if not any(keep):
            continue
        totals = {e: _total(scores[e], keep) for e in scores}
        size = next(t for t in totals.values() if t is not None)
        rows.append(
            [label, sum(keep), size.ref_chars, size.ref_words]
            + [pct(rate(t)) if t else "-" for t in totals.values()]
        )
    return rows


# Lines, not characters, err together (one faded line held 11 of the shipped model's 44
# ALL-CAPS degraded errors), so an interval comes from resampling whole lines.
RESAMPLINGS = 2000


def resampled_cers(engine_scores: Sequence[Sequence[LineScore]], seed: int = 0) -> np.ndarray:
    """(engines, RESAMPLINGS) CERs, each column one draw of the lines with replacement, the same
    lines for every engine, so that differences between engines pair line by line."""
    errors = np.array([[s.char_errors for s in scores] for scores in engine_scores], np.float64)
    chars = np.array([[s.ref_chars for s in scores] for scores in engine_scores], np.float64)
    lines = errors.shape[1]
    picks = np.random.default_rng(seed).integers(0, lines, (RESAMPLINGS, lines))
    return errors[:, picks].sum(axis=2) / np.maximum(1.0, chars[:, picks].sum(axis=2))


def interval(values: np.ndarray) -> str:
    """The central 95% of `values` (rates), in percentage points."""
    low, high = np.percentile(values, [2.5, 97.5])
    return f"{100 * low:.2f} to {100 * high:.2f}"


PAIRED = ("scandex lexicon", "old lexicon")  # with --compare-model: "new - old" column


def interval_rows(
    samples: Sequence[LineSample],
    scores: dict[str, list[LineScore] | None],
    groups: Sequence[Group],
) -> list[list[object]]:
    """One row per group that has lines: the 95% interval of each engine's CER, then, with an
    old model measured, of the new model's CER minus the old one's."""
    rows = []
    for label, belongs in groups:
        keep = [belongs(s) for s in samples]
        if not any(keep):
            continue
        ran = [e for e in scores if scores[e] is not None]
        kept = [[s for s, k in zip(scores[e] or [], keep, strict=True) if k] for e in ran]
        cers = dict(zip(ran, resampled_cers(kept), strict=True))
        row: list[object] = [label, sum(keep)] + [
            interval(cers[e]) if e in cers else "-" for e in scores
        ]
        if all(e in cers for e in PAIRED):
            row.append(interval(cers[PAIRED[0]] - cers[PAIRED[1]]))
        rows.append(row)
    return rows


def print_intervals(
    title: str, scores: dict[str, list[LineScore] | None], rows: list[list[object]]
) -> None:
    """`interval_rows` under a header naming the engines of `scores`."""
    paired = ["new - old"] if all(scores.get(e) is not None for e in PAIRED) else []
    header = ["set", "lines", *scores, *paired]
    title = f"{title}: 95% intervals of the CER, % ({RESAMPLINGS} resamplings of the lines)"
    print_table(title, header, rows)


def real_set_groups(name: str, samples: Sequence[LineSample]) -> list[Group]:
    """The whole set, then each line type its manifest names when there are several."""
    groups: list[Group] = [(name, lambda s: True)]
    types = sorted({s.line_type for s in samples})
    if len(types) > 1:
        groups += [(f"  {t}", lambda s, t=t: s.line_type == t) for t in types]
    return groups


def print_real_accuracy(
    real: dict[str, list[LineSample]], reads: dict[str, Reads], engines: Sequence[str]
) -> None:
    header = ["set", "lines", "chars", "words", *engines]
    scores = {name: scores_by_engine(real[name], reads[name], engines) for name in real}
    for title, rate in (
        ("(a) CER, real dev lines", lambda t: t.cer),
        ("(a) WER (word edit distance / reference words), real dev lines", lambda t: t.wer),
    ):
        rows = []
        for name, samples in real.items():
            rows += accuracy_rows(samples, scores[name], real_set_groups(name, samples), rate)
        print_table(title, header, rows)
    rows = []
    for name, samples in real.items():
        rows += interval_rows(samples, scores[name], real_set_groups(name, samples))
    print_intervals("(a) real dev lines", scores[next(iter(real))], rows)


def _in_family(family: str, degraded: bool) -> Callable[[LineSample], bool]:
    return lambda s: s.family == family and s.degraded == degraded and not s.caps


def synthetic_groups() -> list[Group]:
    groups: list[Group] = []
    for family in _held_out_families():
        for degraded in (False, True):
            label = f"{family}, {'degraded' if degraded else 'clean'}"
            groups.append((label, _in_family(family, degraded)))
    groups += [
        ("ALL-CAPS, clean", lambda s: s.caps and not s.degraded),
        ("ALL-CAPS, degraded", lambda s: s.caps and s.degraded),
        ("typewriter (Courier Prime*), all", lambda s: s.typewriter),
        ("all clean", lambda s: not s.degraded),
        ("all degraded", lambda s: s.degraded),
        ("all synthetic", lambda s: True),
    ]
    return groups


def print_other_language_accuracy(
    samples: Sequence[LineSample], reads: Reads, engines: Sequence[str]
) -> None:
    scores = scores_by_engine(samples, reads, engines)
    groups: list[Group] = [
        (language, lambda s, language=language: s.language == language)
        for language in OTHER_LANGUAGES
    ]
    for measure, rate in (("CER", lambda t: t.cer), ("WER", lambda t: t.wer)):
        rows = accuracy_rows(samples, scores, groups, rate)
        title = f"(b2) {measure}, French, German and Spanish lines, held-out fonts, degraded"
        print_table(title, ["set", "lines", "chars", "words", *engines], rows)


def print_synthetic_accuracy(
    samples: Sequence[LineSample], reads: Reads, engines: Sequence[str]
) -> None:
    scores = scores_by_engine(samples, reads, engines)
    rows = accuracy_rows(samples, scores, synthetic_groups(), lambda t: t.cer)
    title = f"(b) CER, synthetic lines in held-out fonts (seed {SYNTH_SEED})"
    print_table(title, ["set", "lines", "chars", "words", *engines], rows)
    print_intervals(
        "(b) synthetic lines", scores, interval_rows(samples, scores, synthetic_groups())
    )


# -- word confidence -------------------------------------------------------------------------


def scored_words(sample: LineSample, result) -> list[tuple[float, bool]]:
    """(confidence, correct) for each word scandex read in one line.

    The confidence is the page pipeline's own (`word_confidence`: the least certain
    character), so this measures what hOCR and the JSON output carry. A word is correct when
    the word alignment pairs it with an identical reference word, compared as `comparable`
    text (the same rules as the WER)."""
    from scandex.ocr.pipeline import word_confidence

    words = []  # (comparable token, confidence); a token rule may split a word, never join
    for word in result.words:
        confidence = word_confidence([c.confidence for c in word.chars])
        words += [(token, confidence) for token in comparable(word.text).split()]
    ref_words = comparable(sample.text).split()
    hyp_words = [token for token, _ in words]
    matched = {
        h
        for r, h in align_words(ref_words, hyp_words)
        if r is not None and h is not None and ref_words[r] == hyp_words[h]
    }
    return [(confidence, k in matched) for k, (_, confidence) in enumerate(words)]


def print_calibration(
    real: dict[str, list[LineSample]], reads: dict[str, Reads], variants: Sequence[Variant]
) -> None:
    rows = []
    for name, samples in real.items():
        for variant in variants:
            results = reads[name].results[variant.name]
            words = [w for s, r in zip(samples, results, strict=True) for w in scored_words(s, r)]
            confidences = [c for c, _ in words]
            correct = [ok for _, ok in words]
            ece = expected_calibration_error(confidences, correct, CALIBRATION_BINS)
            rows.append(
                [
                    name,
                    variant.name,
                    len(words),
                    f"{np.mean(confidences):.3f}" if words else "-",
                    pct(np.mean(correct)) if words else "-",
                    f"{ece:.3f}" if words else "-",
                ]
            )
    print_table(
        f"(c) word confidence vs word correctness, real dev lines ({CALIBRATION_BINS} bins)",
        ["set", "scandex", "words read", "mean confidence", "words correct", "ECE"],
        rows,
    )
    print(
        "  confidence: scandex.ocr.pipeline.word_confidence (its least certain character);"
        " correct: aligned to an identical reference word"
    )


# -- speed and size --------------------------------------------------------------------------


def _ratio(peer: peers.Timed | None, ours: peers.Timed) -> str:
    """How many times faster scandex is than the peer, CPU seconds / wall seconds."""
    if peer is None:
        return "-"
    cpu = peer.cpu_s / max(ours.cpu_s, 1e-9)
    wall = peer.wall_s / max(ours.wall_s, 1e-9)
    return f"{cpu:.1f}x / {wall:.1f}x"


def print_speed(
    set_name: str, samples: Sequence[LineSample], reads: Reads, variants: Sequence[Variant]
) -> None:
    n = len(samples)
    widths = [s.image.shape[1] for s in samples]
    heights = [s.image.shape[0] for s in samples]
    rows = [
        [
            name,
            timed.note,
            f"{timed.wall_s:.3f}",
            f"{timed.cpu_s:.3f}",
            f"{n / max(timed.wall_s, 1e-9):.1f}",
            f"{n / max(timed.cpu_s, 1e-9):.1f}",
        ]
        for name, timed in reads.timed.items()
        if timed is not None
    ]
    print_table(
        f"(d) speed, one core: {set_name}, {n} lines, median {int(np.median(widths))} x "
        f"{int(np.median(heights))} px",
        ["engine", "how", "wall s", "CPU s", "lines/s wall", "lines/s CPU"],
        rows,
    )
    peer_runs = [
        p
        for p in ("tesseract list", "tesseract each", "rapidocr", "rapidocr batch")
        if reads.timed.get(p) is not None
    ]
    if peer_runs:
        print_table(
            "  times faster than the peer (peer's seconds / scandex's; CPU / wall)",
            ["scandex", *peer_runs],
            [
                [v.name] + [_ratio(reads.timed[p], reads.timed[v.name]) for p in peer_runs]
                for v in variants
            ],
        )
    print(
        "  Tesseract 'each' pays a process start-up per line, 'list' one in all (the fair peer);"
        " RapidOCR runs its recognizer alone, one call per line or one batched call"
    )
    if reads.timed.get("tesseract each") is not None:
        print(f"  Tesseract start-up + model load: {peers.tesseract_startup_s():.3f} s wall")
    for about in sorted({t.about for t in reads.timed.values() if t is not None and t.about}):
        print(f"  {about}")


def _models(variants: Sequence[Variant]) -> dict:
    """ "scandex" (and "old") -> that model's ModelInfo, from its variants."""
    return {v.name.split()[0]: v.recognizer.model for v in variants}


def _model_files(path: Path, label: str) -> list[tuple[str, Path]]:
    """The model file and its capitals companion where it has one (both are read)."""
    from scandex.ocr.recognize import capitals_companion

    companion = capitals_companion(path)
    return [(label, path)] + ([(f"{label} capitals", companion)] if companion.is_file() else [])


def print_models(variants: Sequence[Variant]) -> None:
    models = _models(variants)
    rows = []
    for label, model in models.items():
        for name, path in _model_files(Path(model.path), label):
            size = path.stat().st_size
            rows.append([name, str(path), size, f"{size / 1e6:.2f}", f"{size / 2**20:.2f}"])
    print_table("(e) model files", ["model", "path", "bytes", "MB", "MiB"], rows)
    for label, model in models.items():
        print(f"  {label}: architecture {model.architecture}")
        if model.info:
            print(f"  {label}: info {model.info}")


# -- main ------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="scandex ONNX model (default: the shipped en.onnx)")
    parser.add_argument(
        "--compare-model", metavar="OLD.onnx", help="also measure this model, as 'old' columns"
    )
    parser.add_argument("--limit", type=int, help="at most N lines per real set, N texts per font")
    parser.add_argument("--per-family", type=int, default=60, help="synthetic texts per family")
    parser.add_argument("--repeat", type=int, default=3, help="scandex timing runs (best taken)")
    parser.add_argument("--lines-dir", default=LINES_DIR, help=f"holds {', '.join(REAL_SETS)}")
    peers.add_peer_arguments(parser)
    return peers.resolve_peers(parser.parse_args())


def describe_setup(args, variants: Sequence[Variant], lexicon) -> None:
    import onnxruntime

    print(f"command: {reproduce_command()}")
    for label, model in _models(variants).items():
        for name, path in _model_files(Path(model.path), label):
            print(f"{name} model: {path}")
    print("  capitals = the companion that reads the lines normalization finds to be capitals")
    print(f"scandex: onnxruntime {onnxruntime.__version__}, 1 thread, OpenCV 1 thread")
    print(
        f"  greedy = lexicon off; lexicon = lexicon decoding with the default SpellingParams"
        f" and the default word lists ({'+'.join(lexicon.languages)}: each line's language,"
        f" a short line's those of its recognize() call's words); en list = the English list"
        f" alone"
    )
    print(f"tesseract: {peers.tesseract_version() if args.tesseract else 'skipped'}")
    print(
        "comparison: NFC, ligatures expanded, quotes folded (“ ” „ `` '' -> \", ‘ ’ ‚ ` -> '),"
        " whitespace collapsed, on both sides; CER = edit distance / reference characters;"
        " WER = word edit distance / reference words (words split at spaces, punctuation kept)"
    )


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(1)
    from scandex.ocr.lexicon import LexiconParams, PageLexicon, load_lexicon
    from scandex.ocr.recognize import Recognizer

    lexicon = LexiconParams().load()
    assert isinstance(lexicon, PageLexicon)  # the default: several languages' lists
    model = find_model(args.model)
    old_model = Path(args.compare_model) if args.compare_model else None
    variants = scandex_variants(model, old_model, lexicon)
    english_only = Variant(
        "scandex en list", Recognizer(model, threads=1, lexicon=load_lexicon(("en",)))
    )
    peer_columns = ["tesseract"] * args.tesseract + ["rapidocr"] * bool(args.rapidocr_python)
    engines = [v.name for v in variants] + peer_columns
    describe_setup(args, variants, lexicon)

    real = load_real_sets(args.lines_dir, args.limit)
    speed_set = SPEED_SET if SPEED_SET in real else None
    real_reads = {
        name: read_all(
            samples,
            variants,
            args,
            timing=name == speed_set,
            tesseract_dpi=TESSERACT_DPI.get(name),
        )
        for name, samples in real.items()
    }
    if real:
        print_real_accuracy(real, real_reads, engines)

    per_family = min(args.per_family, args.limit or args.per_family)
    with tempfile.TemporaryDirectory(prefix="scandex-bench-lines-") as tmp:
        synth = synthetic_lines(per_family, Path(tmp))
        synth_reads = read_all(
            synth, variants, args, timing=speed_set is None, tesseract_dpi=SYNTH_DPI
        )
        print_synthetic_accuracy(synth, synth_reads, engines)
        foreign = other_language_lines(per_family, Path(tmp))
        foreign_variants = [*variants[:2], english_only]
        foreign_reads = read_all(
            foreign, foreign_variants, args, timing=False, tesseract_dpi=SYNTH_DPI
        )
        print_other_language_accuracy(
            foreign, foreign_reads, [v.name for v in foreign_variants] + peer_columns
        )
        if real:
            print_calibration(real, real_reads, variants)
        if speed_set:
            print_speed(speed_set, real[speed_set], real_reads[speed_set], variants)
        else:
            print_speed("synthetic lines (UW-III absent)", synth, synth_reads, variants)
    print_models(variants)
    print(f"\nreproduce: {reproduce_command()}")


if __name__ == "__main__":
    main()
