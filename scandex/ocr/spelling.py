"""Lexicon-aware correction of a line's greedy CTC reading.

The greedy reading stays the record. A word is reconsidered only when it is alphabetic (a
token with a digit is never touched: amounts, dates and codes must read as printed) and is
either unknown to the lexicon or has an uncertain letter. Candidates come from a beam search
over the word's own posterior frames that may only spell lexicon prefixes; each candidate,
in the word's likely capitalization, is scored by its CTC likelihood over those frames plus a
weighted log word frequency, against the greedy word scored the same way (with the prior of
an unknown word if it is not in the lexicon). A candidate replaces the reading only when it
wins by a clear margin, and the greedy reading is kept as the word's alternative, so both
are searchable. Names and codes the lexicon lacks survive: the margin needs real evidence.
An unknown word is also tried as two known words with a space between (where the network
passed over a narrow gap, or the typist left none), scored the same way: the space must be
in the frames, or the two words far likelier than one unknown word.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scandex.ocr.codec import Codec
from scandex.ocr.ctc import DecodedChar, ctc_align, ctc_log_likelihood
from scandex.ocr.lexicon import Lexicon, without_accents

LN10 = math.log(10.0)


@dataclass(frozen=True)
class SpellingParams:
    """Defaults chosen on the real dev line sets and degraded held-out-font synthetic lines
    together (mean CER; a grid over weight 0.3-1.6, unknown prior 0.5-2, margin 0.5-2): the
    optimum is flat around these values."""

    prior_weight: float = 0.8  # weight of ln(word frequency) against the CTC log-likelihood
    unknown_zipf: float = 1.5  # Zipf frequency assumed for a word not in the lexicon
    margin_nats: float = 1.0  # how much better a candidate must score to replace the reading
    trusted_confidence: float = 0.9  # a lexicon word whose letters all reach this is kept as is
    beam_width: int = 10
    candidates: int = 3
    # An unknown word may be two known ones run together where the network missed a narrow
    # space ("werealso", "ofink"): each such split is a candidate, its letters as read.
    split_words: bool = True
    # ... or where the typist left none: a typewriter's space bar that did not catch, as on
    # one archive's pages ("youcoming", "ofink"), where the frames show no gap at all. Such a
    # split may also be scored on its letters alone, at this cost, if the two words are
    # likelier than one unknown word by more than it (None: only a gap in the frames
    # counts). Chosen on the real dev lines and pages: at 0.5 nats four run-together pairs
    # of the 22 pages are split (243 -> 235 words missed) and one unlisted word of the dev
    # lines ("speedup"); at 1.5 one pair, at 3 none. The reading stays searchable as the
    # word's alternative.
    missing_space_nats: float | None = 0.5
    # ... and only on a line whose words the lists mostly know, all but one or this share
    # (so too a missing accent, below): on text in a language they do not cover, every
    # unknown word that is an English word and "a" or "as" was split ("novela" -> "novel
    # a", "problemas" -> "problem as"; bench_recognizer (b2), Spanish lines with the English
    # list alone: 2.27 -> 2.63% CER). English lines know 90% or more. All but one: a short
    # line's one unknown word may be the misread one (the same Spanish lines unchanged).
    letters_only_known_share: float = 0.8
    # A listed word read in mixed case ("FRANCiscO", "MIss", "siX": letterheads and typed
    # capitals, where c, s, o, x, i look the same in both cases) is an unlikely way to write
    # it: its reading costs this much, so the word's one-case forms compete with it.
    mixed_case_nats: float = 6.0
    # A word that is a far more frequent listed word but for its accents ("apres" for
    # "après", "busqueda" for "búsqueda": the network missed the small mark over a letter,
    # or never had it in view, and the lists hold such words as the web misspells them) may
    # be scored on its letters alone, at this cost for each letter whose accent differs,
    # like a missing space (None: only the frames count). Chosen on bench_recognizer's
    # (b2) lines: French / German / Spanish 1.09 / 1.08 / 0.89 -> 0.96 / 1.00 / 0.82% CER
    # at 1.5 nats, no other set changed; at 1.0 more words changed for the worse.
    accent_nats: float | None = 1.5


@dataclass(frozen=True)
class CorrectedWord:
    """Where a replaced word's characters start in the corrected list, and what it read before."""

    first_char: int
    original: str


@dataclass(frozen=True)
class _Token:
    first: int  # index of its first character in the line's character list
    last: int  # index of its last character
    left_step: int  # the posterior frames it owns: from the space before it ...
    right_step: int  # ... to the space after it


def _tokens(chars: Sequence[DecodedChar], steps: int) -> list[_Token]:
    tokens = []
    start = None
    for i, ch in enumerate([*chars, None]):
        if ch is None or ch.text == " ":
            if start is not None:
                left = chars[start - 1].end_step if start > 0 else 0
                right = ch.start_step if ch is not None else steps
                tokens.append(_Token(start, i - 1, left, right))
                start = None
        elif start is None:
            start = i
    return tokens


def _lists_know_line(
    chars: Sequence[DecodedChar], tokens: list[_Token], lexicon: Lexicon, share: float
) -> bool:
    """Whether the lexicon knows all but one of a line's words (letter runs of two or more,
    as read) or at least `share` of them. All but one: on a short line the one unknown word
    may be the misread one ("TETE SUIVI BIOCRAPHIE ORDONNANCE" knows three of four)."""
    words = []
    for token in tokens:
        text = "".join(c.text for c in chars[token.first : token.last + 1])
        core = _word_core(text)
        if core is not None:
            words.append(text[core[0] : core[1]])
    unknown = sum(lexicon.frequency(w) is None for w in words)
    return unknown <= 1 or (len(words) - unknown) / len(words) >= share


def lists_word(token: str, lexicon: Lexicon) -> bool:
    """Whether the lexicon lists `token`'s word (as `correct_line` sees it: no digits, two
    letters or more, the punctuation around it left out)."""
    core = _word_core(token)
    return core is not None and lexicon.frequency(token[core[0] : core[1]]) is not None


def _word_core(text: str) -> tuple[int, int] | None:
    """(start, end) of the token's word, its first run of letters, if the token may be
    corrected: no digit in it, and two letters or more (a single letter is never
    reconsidered)."""
    if any(ch.isdigit() for ch in text):
        return None
    start = next((i for i, ch in enumerate(text) if ch.isalpha()), None)
    if start is None:
        return None
    end = start
    while end < len(text) and text[end].isalpha():
        end += 1
    return (start, end) if end - start >= 2 else None


class _LetterGroups:
    """The codec's letters folded to lower case: prefix search runs over these."""

    def __init__(self, codec: Codec) -> None:
        index = {ch: i + 1 for i, ch in enumerate(codec.alphabet)}
        groups: dict[str, list[int]] = {}
        for ch, label in index.items():
            if ch.isalpha() and len(ch.lower()) == 1:
                groups.setdefault(ch.lower(), []).append(label)
        self.letters = sorted(groups)
        self.position = {letter: g for g, letter in enumerate(self.letters)}
        self.members = np.zeros((len(codec.alphabet) + 1, len(self.letters)), np.float32)
        for g, letter in enumerate(self.letters):
            for label in groups[letter]:
                self.members[label, g] = 1.0
        self.index = index


_groups_cache: dict[str, _LetterGroups] = {}


def _letter_groups(codec: Codec) -> _LetterGroups:
    if codec.alphabet not in _groups_cache:
        _groups_cache[codec.alphabet] = _LetterGroups(codec)
    return _groups_cache[codec.alphabet]


def lexicon_beam_search(
    probs: np.ndarray, groups: _LetterGroups, lexicon: Lexicon, beam_width: int, limit: int
) -> list[tuple[str, float]]:
    """The lexicon words (lower case) that best explain these frames, best first, each with
    its log-likelihood with case folded (at least that of any one capitalization of it).

    CTC prefix beam search in which a prefix may only grow into a lexicon prefix; letter
    posteriors are summed over upper and lower case (capitalization is decided afterwards).
    """
    letters = probs @ groups.members  # (steps, letter groups)
    # Python floats from here: the loop below is scalar work, where NumPy scalars cost
    # several times more per operation.
    rows = letters.tolist()
    blanks = probs[:, 0].tolist()
    likely_at = [np.flatnonzero(row > 1e-3).tolist() for row in letters]
    # Each prefix's lexicon test once per search, not once per frame.
    is_prefix: dict[str, bool] = {}
    beams: dict[str, tuple[float, float]] = {"": (1.0, 0.0)}  # prefix -> (p_blank, p_letter)
    log_scale = 0.0
    for row, blank, likely_groups in zip(rows, blanks, likely_at, strict=True):
        likely = [(groups.letters[g], row[g]) for g in likely_groups]
        grown: dict[str, list[float]] = {}
        for prefix, (p_blank, p_letter) in beams.items():
            total = p_blank + p_letter
            entry = grown.setdefault(prefix, [0.0, 0.0])
            entry[0] += total * blank
            if prefix:
                entry[1] += p_letter * row[groups.position[prefix[-1]]]
            for letter, p in likely:
                longer = prefix + letter
                allowed = is_prefix.get(longer)
                if allowed is None:
                    allowed = is_prefix[longer] = lexicon.has_prefix(longer)
                if not allowed:
                    continue
                # A repeated letter needs a blank between; without one it is the same letter.
                from_total = p_blank if prefix.endswith(letter) else total
                grown.setdefault(longer, [0.0, 0.0])[1] += from_total * p
        ranked = sorted(grown.items(), key=lambda item: -(item[1][0] + item[1][1]))[:beam_width]
        norm = sum(p[0] + p[1] for _, p in ranked)
        if norm <= 0:
            return []
        log_scale += math.log(norm)
        beams = {prefix: (p[0] / norm, p[1] / norm) for prefix, p in ranked}
    complete = [
        (prefix, math.log(p[0] + p[1]) + log_scale)
        for prefix, p in beams.items()
        if prefix in lexicon and p[0] + p[1] > 0
    ]
    return complete[:limit]


# The one-letter words a split may leave; other single letters are more often a misread part
# of the word than a word of their own.
_ONE_LETTER_WORDS = frozenset("aAI")


def split_candidates(word: str, lexicon: Lexicon) -> list[tuple[str, float]]:
    """`word` cut into two lexicon words at each place that allows it, as "left right" with
    the prior of the pair: Zipf frequencies add as log10 per-billion counts, so the pair's
    is zipf(left) + zipf(right) - 9 on the single word's scale."""
    out = []
    for cut in range(1, len(word)):
        left, right = word[:cut], word[cut:]
        if any(len(part) == 1 and part not in _ONE_LETTER_WORDS for part in (left, right)):
            continue
        left_zipf, right_zipf = lexicon.frequency(left), lexicon.frequency(right)
        if left_zipf is not None and right_zipf is not None:
            out.append((f"{left} {right}", left_zipf + right_zipf - 9.0))
    return out


def accent_candidates(
    word: str, own_prior: float, lexicon: Lexicon, params: SpellingParams
) -> list[tuple[str, float, float]]:
    """The listed words that are `word` but for their accents and whose prior outweighs
    the cost of the accents changed by more than the margin, so that they replace the word
    on its letters alone: (the word written in the reading's case, its prior, the cost of
    its accents). Most frequent first.

    An accent the network read stays (another may take its place: "CÖTE" may be "CÔTE"):
    it misses small marks more than it makes them up, and "sûr" read as printed is not
    "sur" because "sur" is the commoner word. A "ü" read as "ii" (its dots taken for the
    i's: "ausriistung") counts as one accent changed."""
    if params.accent_nats is None:
        return []
    out = []
    for reading, base_cost in _umlauts_read_as_ii(word, params.accent_nats):
        lower = reading.lower()
        listed = (lower,) if reading != word and lower in lexicon else ()
        for form in listed + lexicon.accented_forms(reading):
            if len(form) != len(reading):  # a capital whose lower case is two letters
                continue
            if any(_accented(r) and not _accented(f) for f, r in zip(form, lower, strict=True)):
                continue
            prior = lexicon.frequency(form) or params.unknown_zipf
            changed = sum(a != b for a, b in zip(form, lower, strict=True))
            cost = base_cost + params.accent_nats * changed
            if params.prior_weight * LN10 * (prior - own_prior) - cost > params.margin_nats:
                cased = "".join(
                    f.upper() if r.isupper() else f for f, r in zip(form, reading, strict=True)
                )
                out.append((cased, prior, cost))
    return sorted(out, key=lambda candidate: -candidate[1])


def _umlauts_read_as_ii(word: str, cost: float) -> list[tuple[str, float]]:
    """`word` at no cost, and `word` with each "ii" in it read as "ü" (the same case) at `cost`."""
    readings = [(word, 0.0)]
    for pair, umlaut in (("ii", "ü"), ("II", "Ü")):
        at = word.find(pair)
        while at >= 0:
            readings.append((word[:at] + umlaut + word[at + 2 :], cost))
            at = word.find(pair, at + 1)
    return readings


def _accented(letter: str) -> bool:
    return without_accents(letter) != letter


def _capitalizations(word: str, reading: str) -> list[str]:
    """How a lexicon word may be written where the network read `reading`.

    The network rarely gets the case of a whole word wrong, so a capitalized or ALL-CAPS
    reading keeps its form; a lower-case first letter may be a misread capital, and a
    reading with capitals after its first letter may be a word in capitals with some
    letters misread as lower case.
    """
    if len(reading) > 1 and reading.isupper():
        return [word.upper()]
    if reading[:1].isupper():
        return [word.upper(), word.capitalize()] if _mixed_case(reading) else [word.capitalize()]
    return [word, word.capitalize()]


def _mixed_case(word: str) -> bool:
    """Whether the letters after the first are neither all capitals nor all lower case."""
    rest = [ch for ch in word[1:] if ch.isalpha()]
    return any(ch.isupper() for ch in rest) and any(ch.islower() for ch in rest)


def _score(
    log_probs: np.ndarray, text: str, codec_index: dict[str, int], prior: float, weight: float
) -> float:
    if not all(ch in codec_index for ch in text):
        return -math.inf
    return ctc_log_likelihood(log_probs, [codec_index[ch] for ch in text]) + weight * LN10 * prior


def _aligned_chars(
    log_probs: np.ndarray,
    text: str,
    offset: int,
    codec_index: dict[str, int],
    x0_step: float,
    x1_step: float,
    confidence: float,
) -> list[DecodedChar] | None:
    """The characters of `text` placed on the frames by CTC alignment, each with the whole
    reading's `confidence` (the letters were chosen together, so they stand or fall together)."""
    labels = [codec_index[ch] for ch in text]
    spans = ctc_align(log_probs, labels)
    if spans is None:
        return None
    chars = []
    for k, (ch, (start, end)) in enumerate(zip(text, spans, strict=True)):
        left = x0_step if k == 0 else (spans[k - 1][1] + start) / 2.0 + offset
        right = x1_step if k == len(text) - 1 else (end + spans[k + 1][0]) / 2.0 + offset
        chars.append(DecodedChar(ch, confidence, offset + start, offset + end, left, right))
    return chars


def word_probability(score: float, scores: list[float]) -> float:
    """The share of `score` among all readings' scores (log domain): the decoder's belief."""
    finite = [s for s in scores if s > -math.inf]
    top = max(finite)
    return math.exp(score - top) / sum(math.exp(s - top) for s in finite)


def correct_line(
    probs: np.ndarray,
    chars: list[DecodedChar],
    codec: Codec,
    lexicon: Lexicon,
    params: SpellingParams = SpellingParams(),
) -> tuple[list[DecodedChar], list[CorrectedWord]]:
    """The line's characters with clearly misread words replaced, and what each replaced word
    read before. `probs` is the line's (steps, classes) posteriors, `chars` its greedy reading."""
    if not chars or len(lexicon) == 0:
        return chars, []
    groups = _letter_groups(codec)
    log_probs = np.log(np.maximum(probs, 1e-30))
    out: list[DecodedChar] = []
    corrected: list[CorrectedWord] = []
    done = 0  # characters of `chars` already copied to `out`
    tokens = _tokens(chars, probs.shape[0])
    lists_know_line = _lists_know_line(chars, tokens, lexicon, params.letters_only_known_share)
    missing_space_nats = params.missing_space_nats if lists_know_line else None
    for token in tokens:
        token_chars = chars[token.first : token.last + 1]
        text = "".join(c.text for c in token_chars)
        core = _word_core(text)
        if core is None:
            continue
        core_chars = token_chars[core[0] : core[1]]
        word = text[core[0] : core[1]]
        known = lexicon.frequency(word)
        own_prior = known if known is not None else params.unknown_zipf
        trusted = (
            known is not None and min(c.confidence for c in core_chars) >= params.trusted_confidence
        )
        # A word read with no doubt is still checked for accents: the network is as sure of
        # an "e" whose accent it did not see.
        accented = accent_candidates(word, own_prior, lexicon, params) if lists_know_line else []
        if trusted and not accented:
            continue
        # The core's frames: from the end of the punctuation before it to the start of what
        # follows it, so a candidate of another length still has room.
        left = token_chars[core[0] - 1].end_step if core[0] > 0 else token.left_step
        right = token_chars[core[1]].start_step if core[1] < len(text) else token.right_step
        frames, log_frames = probs[left:right], log_probs[left:right]
        weight = params.prior_weight
        best_text, best_score = word, _score(log_frames, word, groups.index, own_prior, weight)
        if known is not None and _mixed_case(word):
            best_score -= params.mixed_case_nats
        scores = [best_score]  # of every reading considered, for the winner's probability
        searched = (
            []
            if trusted
            else lexicon_beam_search(frames, groups, lexicon, params.beam_width, params.candidates)
        )
        for candidate, folded in searched:
            prior = lexicon.frequency(candidate) or params.unknown_zipf
            bound = folded + weight * LN10 * prior
            # No capitalization can beat the case-folded score: skip what cannot win (its
            # bound still counts against the winner, so confidence errs on the low side).
            if bound <= best_score + params.margin_nats:
                scores.append(bound)
                continue
            for cased in _capitalizations(candidate, word):
                score = _score(log_frames, cased, groups.index, prior, weight)
                scores.append(score)
                if score > best_score + (params.margin_nats if best_text == word else 0.0):
                    best_text, best_score = cased, score
        # The letters' likelihood is the reading's own score (scores[0]) less its prior.
        letters = scores[0] - weight * LN10 * own_prior
        for cased, prior, cost in accented:
            score = max(
                _score(log_frames, cased, groups.index, prior, weight),
                letters - cost + weight * LN10 * prior,
            )
            scores.append(score)
            if score > best_score + (params.margin_nats if best_text == word else 0.0):
                best_text, best_score = cased, score
        if known is None and params.split_words:
            # The space is scored like any letter: a split wins only where the frames show
            # a gap the greedy reading passed over, or where it pays its missing-space cost.
            # Not for a piece of a word hyphenated across lines: a line's first word or one
            # that ends in a hyphen ("theless," of "never-theless" read "the less").
            fragment = token.first == 0 or text[core[1] :].startswith("-")
            letters_only = (
                letters - missing_space_nats
                if missing_space_nats is not None and not fragment
                else -math.inf
            )
            for split, prior in split_candidates(word, lexicon):
                score = max(
                    _score(log_frames, split, groups.index, prior, weight),
                    letters_only + weight * LN10 * prior,
                )
                scores.append(score)
                if score > best_score + (params.margin_nats if best_text == word else 0.0):
                    best_text, best_score = split, score
        if best_text == word:
            continue
        new_core = _aligned_chars(
            log_frames,
            best_text,
            left,
            groups.index,
            core_chars[0].x0_step,
            core_chars[-1].x1_step,
            word_probability(best_score, scores),
        )
        if new_core is None:
            continue
        out.extend(chars[done : token.first])
        corrected.append(CorrectedWord(len(out), text))
        out.extend(token_chars[: core[0]])
        out.extend(new_core)
        out.extend(token_chars[core[1] :])
        done = token.last + 1
    out.extend(chars[done:])
    return out, corrected
