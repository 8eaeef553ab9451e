"""The fonts synthetic lines are rendered in, grouped by family, with a held-out test split."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

# Families never used for training: the synthetic test set measures how the model reads type
# it has not seen (one sans, one serif, one typewriter face).
HELD_OUT_FAMILIES = frozenset({"Carlito", "P052", "Courier Prime"})

FONT_DIRS = ("/usr/share/fonts",)
# Decorative, symbol and non-Latin faces that would teach the model nonsense.
_SKIP_SUBSTRINGS = (
    "D050000L", "StandardSymbols", "dustin/P", "dustin/f", "dustin/W", "dustin/S", "dustin/I",
    "dustin/J", "dustin/M", "dustin/E", "dustin/B", "dustin/D", "Junkyard", "progenisis",
    "Smallcaps", "cmunbl", "cmunit", "cmunsi", "cmunti", "cmuntb", "cmuntx", "cmunvi", "cmunvt",
    "cmunui", "cmunss", "cmunsx", "cmunbsr", "cmunobx", "cmunobi", "cmunorm", "cmunoti",
    "cmunbso", "cmunbmr", "cmunbmo", "cmunci", "Junicode-Cond", "Junicode-Expanded",
    "Junicode-Semi", "Junicode-Light", "Junicode-Medium", "Junicode-VF", "Junicode-BoldCond",
    "Junicode-BoldExp", "Junicode-BoldSemi", "Junicode-ExtraB", "Junicode-SemiB", "Hairline",
    "Thin", "NotoSansDisplay", "NotoSerifDisplay", "Initials", "Keyboard", "Z003", "Math",
)  # fmt: skip
TYPEWRITER_FAMILIES = frozenset(
    {
        "Courier Prime",
        "GNUTypewriter",
        "Nimbus Mono PS",
        "Liberation Mono",
        "FreeMono",
        "CMU Typewriter Text",
    }
)


@dataclass(frozen=True)
class FontFace:
    path: str
    family: str
    style: str

    @property
    def is_typewriter(self) -> bool:
        return self.family in TYPEWRITER_FAMILIES


def _wanted(path: str) -> bool:
    if any(part in path for part in _SKIP_SUBSTRINGS):
        return False
    if "/noto/" in path:
        name = os.path.basename(path)
        return name.startswith(("NotoSans-", "NotoSerif-", "NotoSansMono-"))
    return True


def find_fonts() -> list[FontFace]:
    """Every usable installed Latin font face, sorted by path."""
    from PIL import ImageFont

    faces = []
    for root in FONT_DIRS:
        for path in sorted(glob.glob(os.path.join(root, "**", "*.[ot]tf"), recursive=True)):
            if not _wanted(path):
                continue
            try:
                family, style = ImageFont.truetype(path, 20).getname()
            except OSError:
                continue
            faces.append(FontFace(path, family or os.path.basename(path), style or ""))
    return faces


def is_held_out(family: str) -> bool:
    # "Courier Prime Sans" and "Courier Prime Code" are the same design as "Courier Prime".
    return any(family.startswith(held) for held in HELD_OUT_FAMILIES)


def split_fonts(faces: list[FontFace]) -> tuple[list[FontFace], list[FontFace]]:
    """(training faces, held-out test faces)."""
    test = [f for f in faces if is_held_out(f.family)]
    train = [f for f in faces if not is_held_out(f.family)]
    return train, test
