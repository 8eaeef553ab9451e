"""The line recognizer at run time: onnxruntime over normalized lines, batched by width.

Loads a scandex ONNX model (network + codec + normalization parameters in one file), turns
line images into text with per-character confidences, x-ranges in the ORIGINAL line image's
pixels, and close alternatives. Needs only numpy, OpenCV and onnxruntime.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from scandex.errors import ModelError
from scandex.ocr.codec import Codec
from scandex.ocr.context import read_in_context
from scandex.ocr.ctc import DecodedChar, greedy_decode
from scandex.ocr.lexicon import Lexicon, PageLexicon
from scandex.ocr.mark_rows import recount_mark_rows, spaced_dashes_by_length
from scandex.ocr.normalize import NormalizedLine, NormalizeParams, normalize_line
from scandex.ocr.spelling import CorrectedWord, SpellingParams, correct_line, lists_word
from scandex.ocr.voting import vote_words

MODEL_FORMAT = "scandex-line-ctc"
SUPPORTED_FORMAT_VERSION = 1
WIDTH_DOWNSAMPLE = 4  # input columns per output step; fixed by the network's pooling
DEFAULT_MODEL_NAME = "en.onnx"


@dataclass(frozen=True)
class CharResult:
    text: str
    confidence: float  # peak posterior, 0..1
    x0: float  # extent in the input line image's pixels
    x1: float
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class WordResult:
    chars: tuple[CharResult, ...]
    # Other readings of the whole word: the greedy one when the lexicon replaced it.
    alternatives: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.chars)


@dataclass(frozen=True)
class LineResult:
    text: str
    confidence: float  # mean of the characters' confidences; 0 for an empty line
    chars: tuple[CharResult, ...] = ()
    words: tuple[WordResult, ...] = ()


@dataclass(frozen=True)
class RereadParams:
    """Doubtful lines are read again with the normalized image moved right by a column or
    two, and the readings vote word by word (scandex.ocr.voting).

    Chosen on the real dev line sets, bench_recognizer's synthetic lines and 150 more of each
    synthetic kind (seed 777; 2026-12-04, v9, errors without -> with rereading at 0.6):
    uw3-dev 7 -> 7, ehri-typewritten-dev 18 -> 15, jls-letters-dev 28 -> 28, held-out
    degraded 193 -> 180, ALL-CAPS degraded 127 -> 102 of the 150, French / German / Spanish
    75 -> 67. At 0.5 fewer gains (ehri 17, degraded 188), at 0.7 and 0.8 the same within a
    few characters with more lines read again (9 / 8 / 15% of the uw3 / ehri / jls lines at
    0.6, 9 / 15 / 23% at 0.7, 13 / 22 / 37% at 0.8). Moved by 1 and 2 columns read better
    than by 2 and 3 or 1 and 3, and a fourth reading (1, 2 and 3) no better than three.
    Each further move is read only where the readings so far all differ: where two read
    the same words a third cannot outvote them (the same figures within two characters,
    and rereading's cost on the dev lines' lines per second 10-18% -> 7-14%).
    """

    # A line with a character (space included) the network is less sure of than this is
    # read again; 0 = never.
    below: float = 0.6
    # Columns the normalized line is moved right by for each further reading, the one that
    # reads best alone first; () = none.
    shifts: tuple[int, ...] = (2, 1)


def default_model_path() -> Path:
    """The English model shipped inside the package."""
    return Path(str(resources.files("scandex.models").joinpath(DEFAULT_MODEL_NAME)))


@dataclass(frozen=True)
class ModelInfo:
    path: str
    codec: Codec
    normalize: NormalizeParams
    architecture: dict
    info: dict


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ModelError(path, "file not found")
    if path.is_dir():
        raise ModelError(path, "is a directory, not a model file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(path, f"cannot read: {exc.strerror or exc}") from None
    if not data:
        raise ModelError(path, "file is empty")
    return data


def _open_session(path: Path, data: bytes, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            path, f"not a valid ONNX model (corrupt or truncated?): {first_line[:200]}"
        ) from None


@dataclass(frozen=True)
class _Network:
    session: Any  # onnxruntime.InferenceSession
    input_name: str


def capitals_companion(model_path: Path) -> Path:
    """Where a model's companion for lines of capitals lies: en.onnx -> en-capitals.onnx."""
    return model_path.with_name(f"{model_path.stem}-capitals{model_path.suffix}")


def _load(path: Path, threads: int) -> tuple[_Network, ModelInfo]:
    """The network of the scandex model at `path`, and what the model says of itself,
    checked."""
    session = _open_session(path, _read_bytes(path), threads)
    model = model_info(path, dict(session.get_modelmeta().custom_metadata_map))
    classes = session.get_outputs()[0].shape[-1]
    if isinstance(classes, int) and classes != model.codec.num_classes:
        raise ModelError(
            path, f"network has {classes} outputs but its codec needs {model.codec.num_classes}"
        )
    return _Network(session, session.get_inputs()[0].name), model


def model_info(path: Path, metadata: dict[str, str]) -> ModelInfo:
    """What the model file says about itself, checked for this scandex."""
    if metadata.get("format") != MODEL_FORMAT:
        raise ModelError(path, "an ONNX model, but not a scandex line recognizer")
    try:
        version = int(metadata.get("format_version", "0"))
    except ValueError:
        version = 0
    if version > SUPPORTED_FORMAT_VERSION:
        raise ModelError(
            path, f"made by a newer scandex (model format {version}); upgrade scandex to use it"
        )
    if version < 1:
        raise ModelError(path, "model format version missing or invalid")
    try:
        codec = Codec(json.loads(metadata["alphabet"]))
        normalize = NormalizeParams(**json.loads(metadata["normalize"]))
        architecture = json.loads(metadata["architecture"])
        info = json.loads(metadata.get("info", "{}"))
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelError(path, f"model metadata is incomplete or invalid ({exc})") from None
    return ModelInfo(str(path), codec, normalize, architecture, info)


class Recognizer:
    """Loads a model once; `recognize` reads batches of line images.

    With a lexicon, words the network read uncertainly are checked against it (see
    scandex.ocr.spelling); without one, the reading is the greedy CTC decoding. With word
    lists of several languages (a PageLexicon), each line is checked against the list of
    the language its greedy reading is in, a short line against those of its page (the
    `recognize` call). A line the network is unsure of is read again, moved, and the
    readings vote (RereadParams). With `capitals`, lines of capitals (as normalization finds
    them) are read by the model's capitals companion where it has one (`capitals_companion`:
    the same network trained on mostly ALL-CAPS lines); the rest of the reading is the same.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        threads: int = 1,
        lexicon: Lexicon | PageLexicon | None = None,
        spelling: SpellingParams = SpellingParams(),
        reread: RereadParams = RereadParams(),
        capitals: bool = True,
    ) -> None:
        self.lexicon = lexicon
        self.spelling = spelling
        self.reread = reread
        path = Path(model_path) if model_path else default_model_path()
        network, self.model = _load(path, threads)
        self.codec = self.model.codec
        # The networks by whether they read the lines of capitals: the model's companion
        # does where it has one.
        self._networks = {False: network}
        companion = capitals_companion(path)
        if capitals and companion.is_file():
            companion_network, companion_model = _load(companion, threads)
            if (companion_model.codec.alphabet, companion_model.normalize) != (
                self.codec.alphabet,
                self.model.normalize,
            ):
                raise ModelError(
                    companion, f"its alphabet or line normalization differs from {path.name}'s"
                )
            self._networks[True] = companion_network

    def posteriors(self, batch: np.ndarray, *, capitals: bool = False) -> np.ndarray:
        """(N, 1, H, W) normalized images -> (N, W // 4, classes) probabilities; with
        `capitals`, from the capitals companion where the model has one."""
        network = self._networks.get(capitals, self._networks[False])
        log_probs = network.session.run(None, {network.input_name: batch})[0]
        return np.exp(log_probs)

    def _by_companion(self, line: NormalizedLine) -> bool:
        """Whether the capitals companion reads this line."""
        return line.capitals and True in self._networks

    def recognize(
        self, images: Sequence[np.ndarray], *, max_batch: int = 8, max_pixels: int = 600_000
    ) -> list[LineResult]:
        """Recognize each image as one text line, in the order given (the lines of one page:
        with several languages' word lists, a short line takes the languages of the page's
        words).

        Lines go to the network in batches of similar width, at most `max_batch` at a time:
        on one core, batches of 8 ran 13% faster than batches of 32 (whose activations
        outgrow the caches) and 30% faster than one line at a time (2026-12-02, 402 lines
        of real pages)."""
        normalized = [normalize_line(image, self.model.normalize) for image in images]
        line_probs = self._posteriors_by_width(normalized, max_batch, max_pixels)
        decoded = [
            _first_reading(p, line, self.codec)
            for p, line in zip(line_probs, normalized, strict=True)
        ]
        self._back_to_the_model(normalized, line_probs, decoded, max_batch, max_pixels)
        lexicons: Sequence[Lexicon | None]
        if isinstance(self.lexicon, PageLexicon):
            lexicons = self.lexicon.for_lines(["".join(c.text for c in d) for d in decoded])
        else:
            lexicons = [self.lexicon] * len(images)
        results = [
            _line_result(p, line, d, self.codec, lexicon, self.spelling)
            for p, line, d, lexicon in zip(line_probs, normalized, decoded, lexicons, strict=True)
        ]
        return self._reread_doubtful(results, normalized, lexicons, max_batch, max_pixels)

    def _back_to_the_model(
        self,
        normalized: list[NormalizedLine],
        line_probs: list[np.ndarray],
        decoded: list[list[DecodedChar]],
        max_batch: int,
        max_pixels: int,
    ) -> None:
        """Read again with the model, in place, the lines normalization took for capitals
        that the companion reads in lower case: in a table row of figures and a few words the
        digits stand as tall as capitals, and the companion, trained on capitals, ran the
        figures together ("30 0 0" read "3000")."""
        not_capitals = [
            i
            for i, (line, reading) in enumerate(zip(normalized, decoded, strict=True))
            if self._by_companion(line) and not reads_as_capitals(reading)
        ]
        if not not_capitals:
            return
        for i in not_capitals:
            normalized[i] = replace(normalized[i], capitals=False)
        again = self._posteriors_by_width(
            [normalized[i] for i in not_capitals], max_batch, max_pixels
        )
        for i, probs in zip(not_capitals, again, strict=True):
            line_probs[i] = probs
            decoded[i] = _first_reading(probs, normalized[i], self.codec)

    def _reread_doubtful(
        self,
        results: list[LineResult],
        normalized: Sequence[NormalizedLine],
        lexicons: Sequence[Lexicon | None],
        max_batch: int,
        max_pixels: int,
    ) -> list[LineResult]:
        """`results`, each doubtful line's replaced by the vote of its readings moved
        (RereadParams)."""
        doubtful = [i for i, result in enumerate(results) if _doubtful(result, self.reread)]
        readings = {i: [results[i]] for i in doubtful}
        pending = doubtful
        for columns in self.reread.shifts:
            if not pending:
                break
            moved = [normalized[i].shifted(columns) for i in pending]
            moved_probs = self._posteriors_by_width(moved, max_batch, max_pixels)
            for i, line, p in zip(pending, moved, moved_probs, strict=True):
                reading = _first_reading(p, line, self.codec)
                readings[i].append(
                    _line_result(p, line, reading, self.codec, lexicons[i], self.spelling)
                )
            # Where two readings agree on every word, a third cannot outvote them.
            pending = [i for i in pending if not _agree(readings[i])]
        return [
            voted_line(readings[i], lexicons[i]) if len(readings.get(i, ())) > 1 else result
            for i, result in enumerate(results)
        ]

    def _posteriors_by_width(
        self, lines: Sequence[NormalizedLine], max_batch: int, max_pixels: int
    ) -> list[np.ndarray]:
        """Each normalized line's (steps, classes) posteriors, batched by width, the lines of
        capitals apart (they may go to another network)."""
        widths = [line.image.shape[1] for line in lines]
        line_probs: list[np.ndarray] = [np.empty((0, 0), np.float32)] * len(lines)
        by_network: dict[bool, list[int]] = {}
        for i, line in enumerate(lines):
            by_network.setdefault(self._by_companion(line), []).append(i)
        for capitals, chosen in by_network.items():
            order = sorted(chosen, key=lambda i: widths[i])
            for batch_indices in _width_batches([widths[i] for i in order], max_batch, max_pixels):
                indices = [order[k] for k in batch_indices]
                probs = self.posteriors(
                    stack_lines([lines[i].image for i in indices]), capitals=capitals
                )
                for index, p in zip(indices, probs, strict=True):
                    line_probs[index] = p[: output_steps(widths[index])]
        return line_probs


def reads_as_capitals(reading: Sequence[DecodedChar], share: float = 0.9) -> bool:
    """Whether a line's letters are read as capitals, this share of them at least."""
    letters = [c.text for c in reading if c.text.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= share * len(letters)


def _doubtful(result: LineResult, params: RereadParams) -> bool:
    return any(c.confidence < params.below for c in result.chars)


def _agree(readings: Sequence[LineResult]) -> bool:
    """Whether two of the readings read the same words."""
    texts = [tuple(w.text for w in r.words) for r in readings]
    return len(set(texts)) < len(texts)


def voted_line(readings: Sequence[LineResult], lexicon: Lexicon | None = None) -> LineResult:
    """One line from several readings of it: each word as most readings read it (see
    scandex.ocr.voting), with its characters, boxes and alternatives as that reading has
    them."""
    picks = vote_words(
        [[w.text for w in r.words] for r in readings],
        [[float(np.mean([c.confidence for c in w.chars])) for w in r.words] for r in readings],
        None
        if lexicon is None
        else [[lists_word(w.text, lexicon) for w in r.words] for r in readings],
    )
    words = [readings[r].words[i] for r, i in picks]
    chars: list[CharResult] = []
    for n, (r, i) in enumerate(picks):
        if n:
            chars.append(_space_before(readings[r], i, chars[-1]))
        chars.extend(readings[r].words[i].chars)
    text = " ".join(w.text for w in words)
    confidence = float(np.mean([c.confidence for c in chars])) if chars else 0.0
    return LineResult(text, confidence, tuple(chars), tuple(words))


def _space_before(reading: LineResult, word: int, previous: CharResult) -> CharResult:
    """The space between `previous` (the voted line's last character so far) and word `word`
    of `reading`: that reading's own space before the word where it has one, else a space
    over the gap, as sure as the less sure of the characters beside it."""
    first = reading.words[word].chars[0]
    if word > 0:
        at = next(k for k, c in enumerate(reading.chars) if c is first)
        if at > 0 and reading.chars[at - 1].text == " ":
            return reading.chars[at - 1]
    confidence = min(previous.confidence, first.confidence)
    return CharResult(" ", confidence, previous.x1, max(first.x0, previous.x1))


def _width_batches(widths: list[int], max_batch: int, max_pixels: int) -> list[list[int]]:
    """Split a width-sorted list into batches whose padded size stays bounded."""
    batches: list[list[int]] = []
    current: list[int] = []
    for k, width in enumerate(widths):
        # Sorted ascending, so `width` is the padded width if k joins the current batch.
        if current and (
            len(current) >= max_batch
            or width * (len(current) + 1) > max_pixels
            or width > 1.5 * widths[current[0]] + 64
        ):
            batches.append(current)
            current = []
        current.append(k)
    if current:
        batches.append(current)
    return batches


def output_steps(width_px: int) -> int:
    """Posterior steps the network produces for a normalized line this wide."""
    return -(-width_px // WIDTH_DOWNSAMPLE)


def stack_lines(images: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 1, H, W) batch of normalized line images, zero-padded to a width the network takes."""
    height = images[0].shape[0]
    width = output_steps(max(image.shape[1] for image in images)) * WIDTH_DOWNSAMPLE
    batch = np.zeros((len(images), 1, height, width), np.float32)
    for i, image in enumerate(images):
        batch[i, 0, :, : image.shape[1]] = image
    return batch


def _first_reading(probs: np.ndarray, line: NormalizedLine, codec: Codec) -> list[DecodedChar]:
    """The network's best path, with rows of marks recounted, spaced dashes read by their
    length and look-alike characters read by their context (before any word list is
    consulted)."""
    decoded = recount_mark_rows(greedy_decode(probs, codec), line.image, WIDTH_DOWNSAMPLE)
    decoded = spaced_dashes_by_length(decoded, line.image, WIDTH_DOWNSAMPLE)
    return read_in_context(decoded)


def _line_result(
    probs: np.ndarray,
    line: NormalizedLine,
    decoded: list[DecodedChar],
    codec: Codec,
    lexicon: Lexicon | None,
    spelling: SpellingParams,
) -> LineResult:
    corrected: list[CorrectedWord] = []
    if lexicon is not None:
        decoded, corrected = correct_line(probs, decoded, codec, lexicon, spelling)
    originals = {c.first_char: c.original for c in corrected}
    # All the line's character edges mapped back at once (one call per edge cost more than
    # the decoding).
    edges = np.array([(c.x0_step, c.x1_step) for c in decoded], np.float64).reshape(-1, 2)
    input_x = np.asarray(line.to_input_x(edges * WIDTH_DOWNSAMPLE)).tolist()
    chars = [
        CharResult(c.text, c.confidence, x0, x1, c.alternatives)
        for c, (x0, x1) in zip(decoded, input_x, strict=True)
    ]
    # Spaces at the ends mean nothing; two in a row (split by a blank) mean one. Words are
    # the runs between spaces, each with the other readings recorded for its first character.
    words: list[WordResult] = []
    kept: list[CharResult] = []
    current: list[CharResult] = []
    current_alternatives: tuple[str, ...] = ()
    space: CharResult | None = None  # the first space after the last word kept
    for index, char in enumerate([*chars, None]):
        if char is not None and char.text != " ":
            if not current:
                current_alternatives = (originals[index],) if index in originals else ()
            current.append(char)
            continue
        if current:
            if space is not None:
                kept.append(space)
            kept.extend(current)
            words.append(WordResult(tuple(current), current_alternatives))
            current, space = [], None
        if char is not None and space is None and kept:
            space = char
    text = " ".join(w.text for w in words)
    confidence = float(np.mean([c.confidence for c in kept])) if kept else 0.0
    return LineResult(text, confidence, tuple(kept), tuple(words))
