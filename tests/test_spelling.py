"""Lexicon-aware decoding on hand-made posteriors, the word lists, and where the other
readings go (hOCR, the index)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scandex.errors import ConfigError, ScandexError
from scandex.ocr.codec import Codec
from scandex.ocr.ctc import ctc_align, ctc_log_likelihood, greedy_decode
from scandex.ocr.lexicon import (
    LexiconParams,
    PageLexicon,
    choose_languages,
    line_languages,
    load_lexicon,
    make_lexicon,
    read_user_words,
    without_accents,
)
from scandex.ocr.spelling import SpellingParams, correct_line

CODEC = Codec()
LEXICON = make_lexicon(
    [("september", 4.4), ("the", 7.7), ("market", 5.0), ("street", 5.1), ("of", 7.4)]
)


def posteriors(text: str, confusions: dict[int, dict[str, float]] | None = None) -> np.ndarray:
    """Two frames per character and a blank between: the network's output for `text`.

    `confusions[i]` moves probability from character i to others, as a real misreading does.
    """
    index = {ch: i + 1 for i, ch in enumerate(CODEC.alphabet)}
    frames = []
    rest = 0.02 / CODEC.num_classes
    for i, ch in enumerate(text):
        row = np.full(CODEC.num_classes, rest)
        spread = (confusions or {}).get(i, {})
        row[index[ch]] = 0.98 - sum(spread.values())
        for other, p in spread.items():
            row[index[other]] += p
        blank = np.full(CODEC.num_classes, rest)
        blank[0] = 0.98
        frames += [row, row, blank]
    probs = np.array(frames)
    return probs / probs.sum(axis=1, keepdims=True)


def read(text: str, confusions=None, lexicon=LEXICON, params=SpellingParams()):
    probs = posteriors(text, confusions)
    chars, corrected = correct_line(probs, greedy_decode(probs, CODEC), CODEC, lexicon, params)
    return "".join(c.text for c in chars), [(c.first_char, c.original) for c in corrected]


def test_a_misread_word_is_corrected_and_the_reading_kept():
    # "Septerber" where the network gave "m" real weight at the misread letter.
    text, corrected = read("On Septerber 5.", {8: {"m": 0.3}})
    assert text == "On September 5."
    assert corrected == [(3, "Septerber")]


def test_a_misread_capital_is_restored():
    text, corrected = read("the larket", {4: {"M": 0.25}})
    assert text == "the Market"
    assert corrected == [(4, "larket")]


def test_a_word_in_capitals_with_letters_read_in_lower_case_is_read_in_capitals():
    """Typed capitals whose c, s and o look the same in both cases: the network read
    "STREet" with some weight on the capitals, and "STREet" is not a way to write a word."""
    text, corrected = read("ON MARKET STREet", {14: {"E": 0.4}, 15: {"T": 0.3}})
    assert text == "ON MARKET STREET"
    assert corrected == [(10, "STREet")]


def test_mixed_case_stays_where_the_network_is_sure_or_the_word_is_not_listed():
    # The lower-case letters read with no doubt: a name such as "McKune" is written so.
    assert read("ON MARKET STREet")[0] == "ON MARKET STREet"
    # Not a listed word: nothing to put in one case.
    assert read("the GigaMax", {6: {"m": 0.3}})[0] == "the GigaMax"
    # Capitalized and lower-case words are not mixed case.
    assert read("the Market street")[0] == "the Market street"


def test_punctuation_around_a_word_stays():
    text, _ = read('"Septerber,"', {6: {"m": 0.3}})
    assert text == '"September,"'


def missed_space(text: str, at: int, space_prob: float) -> np.ndarray:
    """Posteriors of `text` where the network took the space at character `at` for a gap
    between letters: its frames blank, with `space_prob` left for the space."""
    probs = posteriors(text)
    row = np.full(CODEC.num_classes, 0.02 / CODEC.num_classes)
    row[1 + CODEC.alphabet.index(" ")] = space_prob
    row[0] = 1.0 - row.sum() + row[0]
    probs[3 * at : 3 * at + 2] = row
    return probs


@pytest.mark.parametrize(
    ("space_prob", "expected"), [(0.1, "market of the street"), (1e-6, "market ofthe street")]
)
def test_words_run_together_are_split_only_where_the_frames_show_a_gap(space_prob, expected):
    probs = missed_space("market of the street", 9, space_prob)
    greedy = greedy_decode(probs, CODEC)
    assert "".join(c.text for c in greedy) == "market ofthe street"
    # (a gap in the frames alone: a split without one is the next test's)
    gap_only = SpellingParams(missing_space_nats=None)
    chars, corrected = correct_line(probs, greedy, CODEC, LEXICON, gap_only)
    assert "".join(c.text for c in chars) == expected
    # Split, the line keeps what it read as the first word's other reading, for search.
    assert [(c.first_char, c.original) for c in corrected] == (
        [(7, "ofthe")] if " of " in expected else []
    )
    off = correct_line(probs, greedy, CODEC, LEXICON, SpellingParams(split_words=False))[0]
    assert "".join(c.text for c in off) == "market ofthe street"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the market of the street ofthe market", "the market of the street of the market"),
        # two rarer words: as likely one unknown word
        ("the market of the street marketstreet", "the market of the street marketstreet"),
        # a line's first word may end a hyphenated one, and one before a hyphen start it
        ("ofthe market of the street", "ofthe market of the street"),
        ("the market of the ofthe- street", "the market of the ofthe- street"),
        # a line the lists mostly do not know is in another language: its words stay
        ("mercado ofthe calle street", "mercado ofthe calle street"),
    ],
)
def test_words_typed_without_a_space_are_split_only_when_far_likelier(text, expected):
    # No gap in the frames at all: the typist's space bar did not catch.
    probs = posteriors(text)
    greedy = greedy_decode(probs, CODEC)
    chars, _ = correct_line(probs, greedy, CODEC, LEXICON)
    assert "".join(c.text for c in chars) == expected
    strict = SpellingParams(missing_space_nats=None)
    chars, _ = correct_line(probs, greedy, CODEC, LEXICON, strict)
    assert "".join(c.text for c in chars) == text


def test_tokens_with_digits_are_never_changed():
    # "5treet" is one letter from "street", but a token with a digit reads as printed.
    text, corrected = read("5treet 1934", {0: {"s": 0.3}})
    assert text == "5treet 1934"
    assert corrected == []


def test_an_unknown_name_is_kept():
    # "Hibbard" is in no word list, and the network is sure of it: a name, not a misreading.
    text, corrected = read("Mr Hibbard of the Street")
    assert text == "Mr Hibbard of the Street"
    assert corrected == []


def test_a_word_is_replaced_only_on_clear_evidence():
    # The same misreading with hardly any weight on the right letter: not enough to change it.
    text, _ = read("Septerber", {5: {"m": 0.001}})
    assert text == "Septerber"
    # ...and with the margin raised, even good evidence is not enough.
    text, _ = read("Septerber", {5: {"m": 0.3}}, params=SpellingParams(margin_nats=50.0))
    assert text == "Septerber"


def test_corrected_characters_have_positions_in_order():
    probs = posteriors("Septerber", {5: {"m": 0.3}})
    chars, _ = correct_line(probs, greedy_decode(probs, CODEC), CODEC, LEXICON)
    starts = [c.x0_step for c in chars]
    assert starts == sorted(starts)
    assert all(c.x0_step < c.x1_step for c in chars)
    assert all(0.0 < c.confidence <= 1.0 for c in chars)


def test_ctc_likelihood_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    log_probs = torch.log_softmax(torch.tensor(rng.normal(size=(30, 8)) * 2), -1)
    labels = [1, 3, 3, 5, 2, 7]
    expected = -torch.nn.functional.ctc_loss(
        log_probs[:, None, :],
        torch.tensor([labels]),
        torch.tensor([30]),
        torch.tensor([len(labels)]),
        reduction="sum",
    ).item()
    assert ctc_log_likelihood(log_probs.numpy(), labels) == pytest.approx(expected, rel=1e-9)
    spans = ctc_align(log_probs.numpy(), labels)
    assert spans is not None and len(spans) == len(labels)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    # A repeated label needs a blank between: six labels with a repeat cannot fit six steps.
    assert ctc_log_likelihood(log_probs.numpy()[:6], labels) == float("-inf")


def test_shipped_word_lists_load():
    english = load_lexicon(("en",))
    assert len(english) > 50_000
    assert english.frequency("September") is not None
    assert english.has_prefix("septem") and not english.has_prefix("xqzv")
    both = load_lexicon(("en", "fr"))
    assert "aujourd" in both or "château" in both
    french = load_lexicon(("fr",), None)
    # A word of both lists keeps its higher frequency; the merged words stay sorted.
    assert both.frequency("transport") == max(
        english.frequency("transport") or 0, french.frequency("transport") or 0
    )
    assert list(both.words) == sorted(both.words) and len(both) < len(english) + len(french)
    with pytest.raises(ScandexError, match="no word list for language 'xx'"):
        load_lexicon(("xx",))


def test_user_words_are_known(tmp_path: Path):
    words = tmp_path / "words.txt"
    words.write_text("# names in our archive\nHibbard\n\nKantardjieff\n", encoding="utf-8")
    assert [w for w, _ in read_user_words(words)] == ["Hibbard", "Kantardjieff"]
    lexicon = LexiconParams(languages=("en",), user_words=words).load()
    assert lexicon is not None and "hibbard" in lexicon and "the" in lexicon
    assert LexiconParams(enabled=False).load() is None
    # A user's word wins where the network half-read it.
    text, _ = read("Hibbord", {4: {"a": 0.3}}, lexicon=lexicon)
    assert text == "Hibbard"


ALL = ("en", "fr", "de", "es")


def test_a_page_is_checked_against_the_lists_of_its_languages():
    english = (
        "We would be glad to hear whether you could send us the books which were promised "
        "to our office last week."
    )
    french = (
        "Le comité s'est réuni mardi pour discuter du transport des familles qui attendent "
        "encore à la frontière."
    )
    german = "Der Ausschuss trat am Dienstag zusammen, um die Lage der Familien zu besprechen."
    assert choose_languages(english, ALL) == ("en",)
    assert choose_languages(french, ALL) == ("fr",)
    assert choose_languages(german, ALL) == ("de",)
    # English and French sentences: both lists; no listed words: the first language given.
    assert choose_languages(english + " " + french, ALL) == ("en", "fr")
    assert choose_languages("1938 - 42 - xqzv", ALL) == ("en",)
    assert choose_languages(french, ("en",)) == ("en",)


def test_each_line_is_corrected_from_the_list_of_its_language():
    page = PageLexicon(ALL)
    # "voitare" where the network gave "u" real weight: the English list has no "voiture".
    confused = {7: {"u": 0.3}}
    english = "We would be glad to hear whether you could send the voitare."
    french = "Le comité a envoyé la voitare pour les familles à la frontière."
    short = "la voitare"  # too few words to tell a language: its page's lists
    on_english_page = page.for_lines([english] * 9 + [french, short])
    assert read("la voitare", confused, lexicon=on_english_page[0])[0] == "la voitare"
    assert read("la voitare", confused, lexicon=on_english_page[9])[0] == "la voiture"
    assert read("la voitare", confused, lexicon=on_english_page[10])[0] == "la voitare"
    on_french_page = page.for_lines([french] * 3 + [english, short])
    assert read("la voitare", confused, lexicon=on_french_page[3])[0] == "la voitare"
    assert read("la voitare", confused, lexicon=on_french_page[4])[0] == "la voiture"


def test_a_line_takes_its_own_language_and_a_short_one_its_pages():
    assert line_languages("Le comité a envoyé la voiture.", ALL, ("en",)) == ("fr",)
    assert line_languages("We sent la voiture to the station", ALL, ("fr",)) == ("en",)
    assert line_languages("la voiture", ALL, ("en", "de")) == ("en", "de")
    assert line_languages("1938 - 42 - xqzv qzxw", ALL, ("de",)) == ("de",)
    assert line_languages("Le comité a envoyé la voiture.", ("en",), ("en",)) == ("en",)


def test_the_default_word_lists_are_a_choice_among_languages(tmp_path: Path):
    from scandex.config import parse_config

    assert LexiconParams().load() == PageLexicon(ALL)
    assert parse_config({}, base_dir=tmp_path, source=None).ocr.lexicon_params.languages == ALL
    # One language is one list, as before.
    assert LexiconParams(languages=("en",)).load() is load_lexicon(("en",), None)
    with pytest.raises(ScandexError, match="no word list for language 'xx'"):
        LexiconParams(languages=("en", "xx")).load()


def test_config_lexicon_keys(tmp_path: Path):
    from scandex.config import parse_config

    words = tmp_path / "names.txt"
    words.write_text("Hibbard\n", encoding="utf-8")
    config = parse_config(
        {"ocr": {"languages": ["en", "de"], "user_words": "names.txt", "lexicon": True}},
        base_dir=tmp_path,
        source=None,
    )
    assert config.ocr.lexicon_params == LexiconParams(True, ("en", "de"), words)
    with pytest.raises(ConfigError, match="ocr.languages"):
        parse_config({"ocr": {"languages": ["klingon"]}}, base_dir=tmp_path, source=None)
    with pytest.raises(ConfigError, match="ocr.user_words"):
        parse_config({"ocr": {"user_words": "missing.txt"}}, base_dir=tmp_path, source=None)


def _document_with_alternative():
    from scandex.page import BBox, Block, Document, Line, Page, Word

    words = (
        Word("On", BBox(10, 10, 40, 30), 0.99),
        Word("September", BBox(50, 10, 200, 30), 0.6, alternatives=("Septerber",)),
    )
    line = Line(BBox(10, 10, 200, 30), "On September", 0.8, words)
    page = Page(1, 300, 100, blocks=(Block(line.bbox, (line,)),))
    return Document("/scans/letter.png", (page,))


def test_alternatives_round_trip_through_hocr():
    from scandex.ocr.hocr import read_hocr, to_hocr

    doc = _document_with_alternative()
    hocr = to_hocr(doc)
    assert "x_alternatives &quot;Septerber&quot;" in hocr or 'x_alternatives "Septerber"' in hocr
    assert "Septerber</span>" not in hocr  # not in the text a PDF layer would show
    back = read_hocr(hocr)
    assert back.pages[0].lines[0].words[1].alternatives == ("Septerber",)
    assert back.pages[0].lines[0].text == "On September"


def test_the_other_reading_is_searchable(tmp_path: Path):
    from scandex.indexer import open_index

    with open_index(tmp_path / "index", writable=True) as index:
        index.add(_document_with_alternative())
        index.commit()
        for query, marked in [
            ("September", ["September"]),
            ("Septerber", ["September"]),  # found by its other reading, marked on the word
            ('"On September"', ["On", "September"]),
        ]:
            hits = index.search(query)
            assert [h.path for h in hits] == ["/scans/letter.png"], query
            assert [w.text for w in hits[0].lines[0].words] == marked, query


ACCENTS = make_lexicon(
    [("après", 6.1), ("apres", 4.3), ("âpres", 3.0), ("sûr", 5.4), ("sur", 6.6)]
    + [("así", 6.1), ("asi", 5.2), ("le", 7.0), ("est", 6.5), ("fait", 5.9)]
    + [("das", 7.0), ("ist", 7.0), ("für", 6.9)]
)


def test_accented_forms_are_the_listed_words_with_other_accents_most_frequent_first():
    assert ACCENTS.accented_forms("APRES") == ("après", "âpres")
    assert ACCENTS.accented_forms("après") == ("apres", "âpres")
    assert ACCENTS.accented_forms("fait") == ()
    assert without_accents("Änderung über Pâques") == "Anderung uber Paques"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The network read the letters with no doubt and missed the accent: the lists hold
        # "apres" too (the web misspells it), at a sixtieth of "après".
        ("le fait est apres", "le fait est après"),
        ("LE FAIT EST APRES", "LE FAIT EST APRÈS"),
        # A "ü" whose dots were taken for an "i"'s: one accent missed.
        ("das ist das ist fiir", "das ist das ist für"),
        ("DAS IST DAS IST FIIR", "DAS IST DAS IST FÜR"),
        # An accent the network read stays, though "sur" is the commoner word.
        ("le fait est sûr", "le fait est sûr"),
        # A line that knows all its words but one (a name, or the one the network misread).
        ("le zorglub est apres", "le zorglub est après"),
        # Not far likelier: "asi" is written so often that the reading stands.
        ("le fait est asi", "le fait est asi"),
        # A line the lists mostly do not know is in another language (an Italian "rapida"
        # is not the Spanish "rápida"): its words keep their letters.
        ("una volpe marrone apres", "una volpe marrone apres"),
    ],
)
def test_a_far_likelier_accented_form_replaces_a_word_read_without_its_accent(text, expected):
    read_text, corrected = read(text, lexicon=ACCENTS)
    assert read_text == expected
    # The reading stays the replaced word's other reading, searchable.
    assert [original for _, original in corrected] == (
        [text.split()[-1]] if expected != text else []
    )
    assert read(text, lexicon=ACCENTS, params=SpellingParams(accent_nats=None))[0] == text
