"""Scans for the `scandex serve` tests: images whose words are black boxes where the index says.

Each word is drawn as a filled rectangle exactly on its box, so any image or highlight can be
checked against the index by position, without OCR. (The browser test OCRs a real rendered
page as well.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from scandex.config import Config, parse_config
from scandex.indexer import open_index
from scandex.page import BBox, Block, Document, Line, Page, Word

PAGE_SIZE = (850, 1100)  # width, height
CHAR_PX = 12
LINE_STEP_PX = 40


def page_of(number: int, texts: list[str]) -> tuple[Page, np.ndarray]:
    """A page whose lines are `texts`, and its image with each word as a black box."""
    width, height = PAGE_SIZE
    image = np.full((height, width), 255, np.uint8)
    lines = []
    for row, text in enumerate(texts):
        top, x, words = 100 + LINE_STEP_PX * row, 60, []
        for token in text.split():
            box = BBox(x, top, x + CHAR_PX * len(token), top + 24)
            image[box.y0 : box.y1, box.x0 : box.x1] = 0
            words.append(Word(token, box, 0.9))
            x = box.x1 + CHAR_PX
        lines.append(Line(BBox.union_all(w.bbox for w in words), text, 0.9, tuple(words)))
    area = BBox.union_all(line.bbox for line in lines)
    return Page(number, width, height, blocks=(Block(area, tuple(lines)),)), image


def write_scan(path: Path, *pages: list[str]) -> Document:
    """An image file at `path` (one frame per page: PNG for one page, TIFF for more)."""
    built = [page_of(number, texts) for number, texts in enumerate(pages, start=1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [Image.fromarray(image) for _, image in built]
    if len(frames) == 1:
        frames[0].save(path)
    else:
        frames[0].save(path, format="TIFF", save_all=True, append_images=frames[1:])
    return Document(str(path), tuple(page for page, _ in built))


def workspace_config(root: Path, **web: object) -> Config:
    """A config like a user's: scans/ watched, state in state/, [web] as given."""
    (root / "scans").mkdir(parents=True, exist_ok=True)
    return parse_config(
        {"state_dir": "state", "watch": {"paths": ["scans"]}, "web": dict(web)},
        base_dir=root,
        source=None,
    )


def index_documents(config: Config, documents: list[tuple[Document, str | None]]) -> None:
    index = open_index(config.index_dir, writable=True)
    try:
        for document, hocr_path in documents:
            index.add(document, hocr_path=hocr_path)
        index.commit()
    finally:
        index.close()
