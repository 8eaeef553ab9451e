"""Benchmark the fine-tuning loop: corrected lines of an archive the model reads badly ->
`scandex train --from default` -> `ocr.model` -> reload -> the archive is read again.

    nice -n 10 .venv/bin/python benchmarks/bench_finetune.py          # 200 lines, 20 min
    .venv/bin/python benchmarks/bench_finetune.py --learning-rate 1e-3 --anchor 0.01  # others
    .venv/bin/python benchmarks/bench_finetune.py --keep W --tuned W/run/best.onnx  # measure again

1. The archive. A user's corrected lines come from the archive they want read: one typewriter,
   one ribbon or carbon, one paper, one scanner. So the benchmark draws that condition once
   (CARBON_COPY: a carbon copy, soft bled strokes, carbon fading in patches, grey paper,
   140 dpi, JPEG) and types every line of the archive in it, key by key
   (scandex.training.render.draw_typewritten), in Courier Prime, the typewriter face held out
   of the shipped model's training (scandex.training.fonts.HELD_OUT_FAMILIES). `--lines` (200)
   corrected lines, a tenth of them the trainer's --dev set as a user would keep some aside,
   and `--test-lines` (300) *other* lines: other texts (all texts are common.frozen_texts,
   so tuning the training text does not move these figures), any text of a corrected
   line left out. The shipped model reads clean Courier Prime at 0.3% CER; this condition is
   what it reads badly, though a person can still read every character.
   Why not lines each degraded its own random way, as the training lines are (the first
   version of this benchmark)? Two hundred lines of unrelated random damage (heavy fading,
   binarization at random thresholds) teach nothing that carries over to other lines: after
   20 minutes CER went from 17.1% to 16.2%. Such lines are still measured (`--random-lines`)
   to see what fine-tuning on one archive does to the same face in other conditions.
2. Control: `--control-lines` lines in the faces the model was trained on, degraded as in
   training, to see that fine-tuning unlearned nothing.
3. Before: the shipped model's CER, the network alone (greedy) and as `scandex run` reads
   (lexicon decoding). Peer: Tesseract 5 on the same lines, same run.
4. Fine-tune as README says: `scandex train --from default --lines L --dev D --out O
   --learning-rate R --real-fraction F --anchor A --max-minutes N --threads 1`.
5. After: the same measures with O/best.onnx, and with its weights mixed with `--mix` (0.3)
   of the shipped model's, which keeps what that one knew. The goal: test-line CER, as
   `scandex run` reads, at least halved.
6. The loop (`--archive-pages`, 3): `scandex run` reads pages of the archive (its face typed
   key by key in the same condition, `archive_page`; until 2026-12-02 the typeset Courier
   Prime pages of tests/synth.py) with the shipped model; ocr.model is set to
   the new one and the daemon gets SIGHUP; the clock runs until `scandex status` counts no
   file read by another model; page CER before and after.

Measured 2026-12-01 (`.venv/bin/python benchmarks/bench_finetune.py --keep W --archive-pages
3`: the defaults, 20 min at 3e-4, real fraction 0.5, anchor 0.01; one core of the 2-core
machine, the other running the test suite; 1611 iterations), from the shipped model v7, on
the frozen texts. Goal NOT met:

    CER                                                 shipped  fine-tuned  better  Tesseract 5
    carbon copy test lines, network alone                 4.28%       3.32%   1.29x            -
    carbon copy test lines, as scandex run reads          3.43%       2.60%   1.32x       11.50%
    control lines (training faces), network alone         7.84%       8.39%   0.94x            -
    control lines (training faces), as scandex run reads  7.42%       7.71%   0.96x            -
    Courier Prime, each line its own random damage       13.59%      14.06%   0.97x       23.53%
    3 archive pages: page CER; re-read in 3 s             0.45%       0.34%   1.33x            -

From v5, the model shipped before (same day, a training run on the other core, about 1300
iterations): test 3.51% -> 2.75% (1.28x), control 7.47% -> 7.87%.

Why not halved: each better shipped model leaves less that fine-tuning can teach (v2 read
such lines at 5.09%, and 20 minutes took it to 3.35%: 1.52x), and what is still missed is
mostly strokes the carbon lost. After fine-tuning (v5) the spaces come right (dropped spaces
in the 300 test lines: 29, then 6); what stays wrong is l/i, I/i, F/E, 8/6, o/c and accents
(É, ï, í read without them): strokes at 30% of their ink or gone under the noise, which a
reader also guesses from context. Levers measured: --learning-rate 1e-3 (1.18x, v5, earlier
texts); the learning rate lowered along a cosine to 1/30 by the end of the 20 minutes (v5:
1.26x, control 8.13%: not kept); strokes fading to 15% of their ink (v2: 7.78% -> 5.32%,
1.46x). The control lines get worse at every setting: --anchor 0.01 does not keep the other
faces. From v8 (2026-12-02, this session's decoding, `--keep W --tuned` on the same lines):
the defaults 3.22% -> 2.61% (1.23x); `--real-fraction 0.8` for 40 minutes (979
iterations, a training run on the other core) 2.54% (1.27x; mixed with 30% of v8, 2.47%,
1.30x; control 8.39 -> 9.27%). By kind of character (the 300 test lines, v8 -> the
defaults' model): spaces 27 -> 9 errors, punctuation 59 -> 36, inserted characters 11 -> 3,
ASCII letters and digits 112 -> 98, accented letters and symbols 95 -> 99. The frozen texts
are multilingual, and accented letters, 40% of what remains, are a handful per corrected
line (of the test lines' 81 accented words the shipped model reads 29, lexicon or not):
200 lines teach the archive's spacing and marks, not its accents. The loop itself works:
the daemon re-read the archive's 3 pages with the new model 3 s after SIGHUP, and since
page analysis reads faded carbon copies line by line (commits c53075a, 66027f0) their page
CER is under 0.5%, where it was 77%.

A face the model has never seen (2026-12-02, v9, the defaults, the other core busy):
`--face SpecialElite-Regular.ttf` (Special Elite, a worn-typewriter face under Apache 2.0,
from Google Fonts or `npm pack @expo-google-fonts/special-elite`; a font file outside the
system's font folders, so no training run draws it). Test lines as `scandex run` reads,
shipped -> fine-tuned (Tesseract 5):

    --condition ribbon --keyboard us-typewriter   0.48% -> 0.15%  3.09x  (2.43%)   goal met
    --condition ribbon                            1.58% -> 1.00%  1.58x  (4.26%)
    --keyboard us-typewriter (carbon copy)        2.74% -> 1.92%  1.42x  (12.04%)
    (carbon copy, every character)                4.47% -> 2.87%  1.56x  (14.25%)

`--condition ribbon` types the archive as the original leaves the typewriter
(synth.RIBBON_ORIGINAL: every stroke there); `--keyboard us-typewriter` keeps to the texts an
office typewriter can type, as an archive typed on one machine does. On the original, what
the shipped model gets wrong is the face (¢ read as %, 3 as 5, "P.O." spaced), and 200 lines
teach it; on the carbon copy it is lost ink, and with every character the face can draw it is
glyphs that 200 lines show a few times each (accented capitals, µ, œ, ¥). The best model by
the 20 dev lines was an early one in every run (ties keep the first); the last one read the
ribbon test lines at 0.11% and the carbon ones at 1.63% (typewriter keys).

`--anchor 0` (the same evening, v9): Special Elite carbon copy with typewriter keys 2.74% ->
0.87% (3.15x, goal met; 2675 iterations, the other core idle), with every character 4.47% ->
2.43% (1.84x); Courier Prime (the default archive) 3.01% -> 2.57% (1.17x, as with 0.01).
Control lines 8.76-9.10% after (8.29% shipped). Again on 2026-12-03 (v9, 2205 iterations, a
training run on the other core): 2.74% -> 0.98% (2.79x; mixed with 30% of v9, 1.07%, 2.57x),
control 8.91% (mixed 8.61%). Since then 0 is the default of `scandex train --anchor` and here:
0.01 halved what the corrected lines teach and kept the control lines no better.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import signal
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # synth.py: the archive's condition and pages
sys.path.insert(0, str(REPO / "benchmarks"))

import common  # noqa: E402
import peers  # noqa: E402
from synth import (  # noqa: E402
    CARBON_COPY,
    RIBBON_ORIGINAL,
    Condition,
    on_paper,
    scan,
    typed_page,
)

CONDITIONS = {"carbon": CARBON_COPY, "ribbon": RIBBON_ORIGINAL}
# What the archive's lines may hold: every character the face can draw ("any", the frozen
# texts' random accented strings and rare symbols included), or the keys of one typewriter,
# as a real archive typed on one machine does (a US office typewriter's: no accents, no
# brackets or symbols beyond these).
KEYBOARDS: dict[str, frozenset[str] | None] = {
    "any": None,
    "us-typewriter": frozenset(string.ascii_letters + string.digits + " !\"#$%&'()*+,-./:;=?@_¢½¼"),
}

FACE_FAMILY = "Courier Prime"
FACE_FILE = "Courier Prime.otf"  # the upright face: one typewriter types no italics
# `scandex train` settings for fine-tuning (see the docstring for what was tried).
LEARNING_RATE, REAL_FRACTION, ANCHOR = 3e-4, 0.5, 0.0
# The fine-tuned weights mixed with the shipped ones (`python -m scandex.training.export
# default run/best.pt mixed.onnx --shares 0.3 0.7`): what the shipped model knew stays.
MIX_SHIPPED = 0.3


@dataclass(frozen=True)
class Line:
    path: str
    text: str


def face_from_file(path: Path):
    """A font file that is not installed (so no training run can have drawn it) as a face."""
    from PIL import ImageFont

    from scandex.training.fonts import FontFace, find_fonts, split_fonts

    training = {Path(f.path).resolve() for f in split_fonts(find_fonts())[0]}
    if path.resolve() in training:
        raise SystemExit(f"{path}: a face the shipped model was trained on; pick an unseen one")
    try:
        family, style = ImageFont.truetype(str(path), 20).getname()
    except OSError as error:
        raise SystemExit(f"{path}: not a font file FreeType can read ({error})") from error
    return FontFace(str(path), family or path.stem, style or "")


def faces(family: str | None, *, held_out: bool) -> list:
    from scandex.training.fonts import find_fonts, split_fonts

    train, test = split_fonts(find_fonts())
    chosen = [f for f in (test if held_out else train) if family is None or f.family == family]
    if not chosen:
        raise SystemExit(f"no installed {family or 'training'} fonts (Debian: fonts-courier-prime)")
    return chosen


def typed_line(text: str, face, condition: Condition, rng: random.Random) -> np.ndarray:
    """One line struck key by key (scandex.training.render.draw_typewritten), put on the copy,
    cut out with a margin as a segmenter would (found on the ink, so faint ends stay in)."""
    from scandex.training.render import draw_typewritten

    ink = draw_typewritten(text, face, condition.size_px, rng)
    rows = np.flatnonzero((ink > 0.3).any(axis=1))
    cols = np.flatnonzero((ink > 0.3).any(axis=0))
    height = int(rows[-1] - rows[0] + 1)
    top = max(0, int(rows[0]) - int(rng.uniform(0.1, 0.4) * height))
    bottom = int(rows[-1]) + 1 + int(rng.uniform(0.1, 0.4) * height)
    left = max(0, int(cols[0]) - int(rng.uniform(0.2, 1.0) * height))
    right = int(cols[-1]) + 1 + int(rng.uniform(0.2, 1.0) * height)
    return scan(on_paper(ink, condition, rng)[top:bottom, left:right], condition)


def _texts(face_list: list, first: int, keys: frozenset[str] | None = None):
    """Endless (face, text) pairs, faces in turn, each text one its face can draw (and of
    `keys` alone, if given), in the model's spelling: the benchmarks' frozen texts from the
    `first`th on, round again at the end (common.frozen_texts: tuning the training text
    changes nothing here)."""
    from scandex.ocr.codec import DEFAULT_ALPHABET, normalize_text
    from scandex.training.render import supported_characters

    texts = common.frozen_texts()
    order = itertools.cycle(texts[first:] + texts[:first])
    supported = {
        f.path: supported_characters(f.path, DEFAULT_ALPHABET) & (keys or set(DEFAULT_ALPHABET))
        for f in face_list
    }
    for count in itertools.count():
        face = face_list[count % len(face_list)]
        # A face that cannot draw 100 texts in a row (a symbol face, one with capitals only)
        # is passed over.
        for _ in range(100):
            text = normalize_text(next(order))
            if text.strip() and set(text) <= supported[face.path]:
                yield face, text
                break


def _save(folder: Path, index: int, image: np.ndarray, text: str) -> Line:
    stem = folder / f"{index:04d}"
    cv2.imwrite(f"{stem}.png", image)
    Path(f"{stem}.gt.txt").write_text(text + "\n", encoding="utf-8")
    return Line(f"{stem}.png", text)


def archive_lines(
    folder: Path,
    count: int,
    face,
    condition: Condition,
    seed: int,
    first_text: int,
    exclude: frozenset[str] | set[str] = frozenset(),
    keys: frozenset[str] | None = None,
) -> list[Line]:
    """`count` lines of the archive, each NAME.png with NAME.gt.txt beside it (OCRopus), the
    frozen texts from `first_text` on (of `keys` alone, if given); no text in `exclude` (the
    corrected lines', so no test line was trained on)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    texts = (text for _, text in _texts([face], first_text, keys) if text not in exclude)
    return [
        _save(folder, i, typed_line(text, face, condition, rng), text)
        for i, text in zip(range(count), texts, strict=False)
    ]


def render_lines(
    folder: Path,
    count: int,
    face_list: list,
    seed: int,
    first_text: int,
    keys: frozenset[str] | None = None,
) -> list[Line]:
    """`count` lines, each degraded its own random way as the training lines are
    (scandex.training.render.render_line), faces in turn, the frozen texts from
    `first_text` on (of `keys` alone, if given)."""
    from scandex.training.render import render_line

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    return [
        _save(folder, i, render_line(text, face, rng).image, text)
        for i, (face, text) in zip(range(count), _texts(face_list, first_text, keys), strict=False)
    ]


def cer(model: Path, lines: list[Line], *, lexicon: bool) -> float:
    from scandex.ocr.io import load_pages
    from scandex.ocr.lexicon import LexiconParams
    from scandex.ocr.recognize import Recognizer

    recognizer = Recognizer(model, lexicon=LexiconParams().load() if lexicon else None)
    images = [load_pages(line.path)[0].gray for line in lines]
    results = recognizer.recognize(images)
    total = common.Score()
    for line, result in zip(lines, results, strict=True):
        total += common.score(common.comparable(line.text), common.comparable(result.text))
    return total.cer


def tesseract_cer(lines: list[Line]) -> float | None:
    if peers.tesseract_version() is None:
        return None
    read = peers.tesseract_list([line.path for line in lines], psm=7)  # one line per image
    if read is None:
        return None
    total = common.Score()
    for line, text in zip(lines, read.texts, strict=True):
        total += common.score(common.comparable(line.text), common.comparable(text))
    return total.cer


@dataclass(frozen=True)
class Tuning:
    """`scandex train` settings for the fine-tuning run."""

    max_minutes: float
    learning_rate: float
    real_fraction: float
    anchor: float


def fine_tune(train: Path, dev: Path, out: Path, tuning: Tuning) -> tuple[Path, float, list[str]]:
    command = [
        str(Path(sys.executable).parent / "scandex"),
        "train",
        "--from", "default",
        "--lines", str(train),
        "--dev", str(dev),
        "--out", str(out),
        "--learning-rate", f"{tuning.learning_rate:g}",
        "--real-fraction", f"{tuning.real_fraction:g}",
        "--anchor", f"{tuning.anchor:g}",
        "--max-minutes", f"{tuning.max_minutes:g}",
        "--eval-minutes", f"{max(1.0, tuning.max_minutes / 6):g}",
        "--threads", "1",
    ]  # fmt: skip
    print("  $", " ".join(command), flush=True)
    started = time.monotonic()
    subprocess.run(command, check=True)
    return out / "best.onnx", time.monotonic() - started, command


def archive_page(
    seed: int, condition: Condition, face, keys: frozenset[str] | None
) -> tuple[np.ndarray, str]:
    """A letter-size page of the archive at 200 dpi and its text: the frozen texts from the
    1700th on (of `keys` alone if given), struck key by key as the corrected lines are
    (synth.typed_page), put on the copy and scanned like it. A proportional face on a
    typewriter's fixed pitch has wide word spaces: pages drawn by a typesetter
    (tests/synth.py's carbon_copy_page) had narrower ones than every corrected line, and a
    model fine-tuned on those lines ran the pages' words together."""
    rng = random.Random(seed)
    words = (w for _, text in _texts([face], 1700 + 100 * (seed % 10), keys) for w in text.split())
    image, lines = typed_page(words, face.path, condition, rng)
    return image, "\n".join(line.text for line in lines)


def archive_loop(
    folder: Path,
    model: Path,
    pages: int,
    condition: Condition,
    face,
    keys: frozenset[str] | None,
) -> dict[str, float]:
    """`scandex run` on the archive's pages with the shipped model, then SIGHUP with `model`."""
    from scandex.ocr.hocr import read_hocr_file

    scans = folder / "scans"
    scans.mkdir(parents=True)
    truth = {}
    for i in range(pages):
        image, text = archive_page(900 + i, condition, face, keys)
        path = scans / f"page-{i}.png"
        cv2.imwrite(str(path), image)
        truth[path] = text
    config = folder / "config.toml"
    base = '[watch]\npaths = ["scans"]\nsettle_seconds = 0.5\n[ocr]\nworkers = 1\n'
    config.write_text(base, encoding="utf-8")
    scandex = str(Path(sys.executable).parent / "scandex")

    def status() -> dict:
        result = subprocess.run(
            [scandex, "status", "--format", "json", "--config", str(config)],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(result.stdout)

    def page_cer() -> float:
        total = common.Score()
        for path, text in truth.items():
            doc = read_hocr_file(path.with_suffix(".hocr"))
            read = "\n".join(line.text for page in doc.pages for line in page.lines)
            total += common.score(common.comparable(text), common.comparable(read))
        return total.cer

    def wait(predicate, seconds: float = 1800.0) -> None:
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit("the daemon did not finish in time")
            time.sleep(0.5)

    daemon = subprocess.Popen(
        [scandex, "run", "--config", str(config)],
        stderr=(folder / "daemon.log").open("wb"),
        start_new_session=True,
    )
    try:
        wait(lambda: status()["counts"]["done"] == pages)
        before = page_cer()
        config.write_text(base + f'model = "{model}"\n', encoding="utf-8")
        started = time.monotonic()
        daemon.send_signal(signal.SIGHUP)
        wait(lambda: (s := status()["model"])["configured"].startswith(model.name)
             and s["read_by_other_models"] == 0)  # fmt: skip
        seconds = time.monotonic() - started
        after = page_cer()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
    return {"before": before, "after": after, "seconds": seconds}


def mix_with_shipped(tuned: Path, share: float, out: Path) -> Path:
    """The fine-tuned model's weights mixed with `share` of the shipped model's (exported as
    a user would: python -m scandex.training.export default TUNED.pt OUT.onnx --shares)."""
    weights = ["default", str(tuned.with_suffix(".pt")), str(out)]
    shares = ["--shares", str(share), str(1 - share)]
    command = [sys.executable, "-m", "scandex.training.export", *weights, *shares]
    subprocess.run(command, check=True, capture_output=True)
    return out


def measure(model: Path, sets: dict[str, list[Line]]) -> dict[str, float]:
    """CER of each set: "NAME" as `scandex run` reads (lexicon), "NAME/greedy" network alone."""
    result = {}
    for name, lines in sets.items():
        result[name] = cer(model, lines, lexicon=True)
        result[f"{name}/greedy"] = cer(model, lines, lexicon=False)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200, help="corrected lines (train + dev)")
    parser.add_argument("--test-lines", type=int, default=300)
    parser.add_argument("--control-lines", type=int, default=300)
    parser.add_argument(
        "--random-lines", type=int, default=150,
        help="Courier Prime lines each degraded its own random way (0 skips them)",
    )  # fmt: skip
    parser.add_argument("--max-minutes", type=float, default=20.0, help="training time limit")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--real-fraction", type=float, default=REAL_FRACTION)
    parser.add_argument("--anchor", type=float, default=ANCHOR)
    parser.add_argument("--archive-pages", type=int, default=3, help="0 skips the loop")
    parser.add_argument(
        "--face", type=Path,
        help="type the archive in this font file, one no training run has seen (default: "
        "Courier Prime, held out of training; e.g. Special Elite, see the docstring)",
    )  # fmt: skip
    parser.add_argument(
        "--condition", choices=sorted(CONDITIONS), default="carbon",
        help="the archive's condition: a carbon copy (the default) or the ribbon original",
    )  # fmt: skip
    parser.add_argument(
        "--keyboard", choices=sorted(KEYBOARDS), default="any",
        help="the characters the archive's lines hold: any the face draws (the default) or "
        "a US office typewriter's keys",
    )  # fmt: skip
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument(
        "--tuned", type=Path, help="measure this fine-tuned model instead of training one"
    )
    parser.add_argument(
        "--mix", type=float, default=MIX_SHIPPED,
        help="also measure the fine-tuned weights mixed with this share of the shipped ones",
    )  # fmt: skip
    args = parser.parse_args()

    from scandex.ocr.recognize import default_model_path

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    if args.face:
        face = face_from_file(args.face)
        family_faces = [face]
    else:
        family_faces = faces(FACE_FAMILY, held_out=True)
        face = next((f for f in family_faces if Path(f.path).name == FACE_FILE), None)
        if face is None:
            raise SystemExit(f"no {FACE_FILE} (Debian: fonts-courier-prime)")
    condition = CONDITIONS[args.condition]
    print(f"{face.family} ({face.path}), {condition}")
    dev_count = max(1, args.lines // 10)
    # Each set's texts from its own part of the 2000 frozen ones (at the default counts).
    keys = KEYBOARDS[args.keyboard]
    corrected = archive_lines(
        work / "corrected", args.lines - dev_count, face, condition, 101, 0, keys=keys
    )
    dev = archive_lines(work / "dev", dev_count, face, condition, 202, 300, keys=keys)
    seen = {line.text for line in corrected + dev}
    test = archive_lines(
        work / "test", args.test_lines, face, condition, 303, 400, exclude=seen, keys=keys
    )
    sets = {"test": test}
    sets["control"] = render_lines(
        work / "control", args.control_lines, faces(None, held_out=False), 404, first_text=800
    )
    if args.random_lines:
        sets["random"] = render_lines(
            work / "random", args.random_lines, family_faces, 505, first_text=1400, keys=keys
        )
    print(f"rendered {len(corrected)} + {len(dev)} corrected, {len(test)} test lines; "
          + ", ".join(f"{len(v)} {k}" for k, v in sets.items() if k != "test")
          + f" lines in {work}", flush=True)  # fmt: skip

    shipped = default_model_path()
    before = measure(shipped, sets)
    tesseract = {name: tesseract_cer(lines) for name, lines in sets.items() if name != "control"}
    if args.tuned:
        tuned, train_seconds, command = args.tuned, 0.0, []
    else:
        tuning = Tuning(args.max_minutes, args.learning_rate, args.real_fraction, args.anchor)
        tuned, train_seconds, command = fine_tune(
            work / "corrected", work / "dev", work / "run", tuning
        )
    after = measure(tuned, sets)
    mixed = measure(mix_with_shipped(tuned, args.mix, work / "mixed.onnx"), sets)

    def row(label: str, key: str, peer: float | None = None) -> list[str]:
        return [label, common.pct(before[key]), common.pct(after[key]),
                f"{before[key] / max(after[key], 1e-9):.2f}x", common.pct(mixed[key]),
                f"{before[key] / max(mixed[key], 1e-9):.2f}x",
                common.pct(peer) if peer is not None else "-"]  # fmt: skip

    archive = f"{face.family}, {condition.name}" + (f", {args.keyboard} keys" if keys else "")
    rows = [
        row(f"{archive}: test lines, network alone", "test/greedy"),
        row(f"{archive}: test lines, as scandex run reads", "test", tesseract["test"]),
        row("control lines (training faces), network alone", "control/greedy"),
        row("control lines (training faces), as scandex run reads", "control"),
    ]
    if "random" in sets:
        rows.append(row(f"{face.family}, each line its own random damage (as trained)",
                        "random", tesseract["random"]))  # fmt: skip
    if args.archive_pages:
        loop = archive_loop(work / "archive", tuned, args.archive_pages, condition, face, keys)
        rows.append(
            [f"{args.archive_pages} archive pages: page CER; re-read in {loop['seconds']:.0f} s",
             common.pct(loop["before"]), common.pct(loop["after"]),
             f"{loop['before'] / max(loop['after'], 1e-9):.2f}x", "-", "-", "-"]
        )  # fmt: skip
    trained = f"{args.tuned}" if args.tuned else f"{train_seconds / 60:.1f} min of training"
    common.print_table(
        f"Fine-tuning on {args.lines} corrected lines: {trained}",
        [
            "CER",
            "shipped model",
            "fine-tuned",
            "better by",
            f"mixed, {args.mix:.0%} shipped",
            "better by",
            "Tesseract 5",
        ],  # fmt: skip
        rows,
    )
    halved = after["test"] <= before["test"] / 2
    print(f"\ngoal (test CER, as scandex run reads, halved): {'met' if halved else 'NOT met'}")
    if command:
        print("fine-tuned with: " + " ".join(command[1:]))
    print(f"reproduce: {common.reproduce_command()}")


if __name__ == "__main__":
    main()
