"""The shipped word lists (LANG.tsv.gz, see README.md); read by scandex.ocr.lexicon."""

from importlib import resources

# The word lists a reader uses unless told otherwise: each line is decoded with the list of
# the language its words are in (scandex.ocr.lexicon.line_languages).
DEFAULT_LANGUAGES = ("en", "fr", "de", "es")


def available_languages() -> list[str]:
    """The languages with a shipped word list."""
    folder = resources.files(__name__)
    return sorted(p.name[: -len(".tsv.gz")] for p in folder.iterdir() if p.name.endswith(".tsv.gz"))
