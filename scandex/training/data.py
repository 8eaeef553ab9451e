"""Training batches: synthetic and real lines, normalized, bucketed by width.

Rendering runs in a DataLoader worker process so the trainer's cores stay on the network.
Each batch holds lines of similar width, so little of the batch is padding.
"""

from __future__ import annotations

import glob
import os
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from scandex.errors import ScanError
from scandex.ocr.codec import Codec, normalize_text
from scandex.ocr.normalize import NormalizeParams, normalize_line
from scandex.ocr.recognize import output_steps, stack_lines
from scandex.training.fonts import FontFace


@dataclass(frozen=True)
class LineSample:
    image: np.ndarray  # uint8 gray
    text: str


IMAGE_EXTENSIONS = (".png", ".bin.png", ".nrm.png", ".jpg", ".tif", ".tiff")


def uw3_text(text: str) -> str:
    """UW-III and other TeX-style transcriptions write curly quotes as `` and ''."""
    return text.replace("``", "“").replace("''", "”")


def load_line_dir(directory: str | Path) -> list[LineSample]:
    """Every NAME.png (or .jpg/.tif) with a NAME.gt.txt beside it (the OCRopus convention).

    A transcript without a readable image is an error naming it, never a silent gap.
    """
    from scandex.ocr.io import load_pages

    samples = []
    for gt_path in sorted(
        glob.glob(os.path.join(str(directory), "**", "*.gt.txt"), recursive=True)
    ):
        stem = gt_path[: -len(".gt.txt")]
        images = [stem + ext for ext in IMAGE_EXTENSIONS if os.path.exists(stem + ext)]
        if not images:
            raise ScanError(gt_path, f"no image beside it ({', '.join(IMAGE_EXTENSIONS)})")
        image = load_pages(images[0])[0].gray
        with open(gt_path, encoding="utf-8") as handle:
            text = normalize_text(uw3_text(handle.read()))
        if text:
            samples.append(LineSample(image, text))
    return samples


def augment_real(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Mild changes to a real line so a few hundred of them do not get memorized."""
    out = image
    if rng.random() < 0.5:
        factor = rng.uniform(0.6, 1.4)
        out = cv2.resize(
            out,
            None,
            fx=factor,
            fy=factor * rng.uniform(0.9, 1.1),
            interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR,
        )
    r = rng.random()
    if r < 0.15:
        out = cv2.erode(out, np.ones((2, 2), np.uint8))  # erode paper = thicker ink
    elif r < 0.3:
        out = cv2.dilate(out, np.ones((2, 1), np.uint8))
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.0))
    if rng.random() < 0.25:
        # Faint ink or a grey copy: the ink's contrast against the paper shrinks.
        paper = float(np.percentile(out, 90))
        keep = rng.uniform(0.35, 0.9)
        faded = paper - (paper - out.astype(np.float32)) * keep
        out = np.clip(faded, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        # A low-resolution scan (down to a third, e.g. 300 -> 100 dpi) brought back up.
        factor = rng.uniform(0.35, 0.7)
        h, w = out.shape[:2]
        small = cv2.resize(
            out, (max(1, int(w * factor)), max(1, int(h * factor))), interpolation=cv2.INTER_AREA
        )
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 12, out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    pad = rng.randint(0, 6)
    if pad:
        out = cv2.copyMakeBorder(out, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
    return out


def collate(images: list[np.ndarray], labels: list[list[int]]) -> dict[str, torch.Tensor]:
    return {
        "images": torch.from_numpy(stack_lines(images)),
        "targets": torch.tensor([c for lab in labels for c in lab], dtype=torch.long),
        "target_lengths": torch.tensor([len(lab) for lab in labels], dtype=torch.long),
        "input_lengths": torch.tensor([output_steps(im.shape[1]) for im in images]),
    }


def fits_ctc(label: list[int], steps: int) -> bool:
    """CTC needs a step per label plus a blank between repeated labels."""
    repeats = sum(1 for a, b in zip(label, label[1:], strict=False) if a == b)
    return len(label) > 0 and len(label) + repeats <= steps


class BatchStream(torch.utils.data.IterableDataset):
    """An endless stream of width-bucketed batches of normalized lines."""

    def __init__(
        self,
        codec: Codec,
        *,
        real: list[LineSample],
        fonts: list[FontFace],
        real_fraction: float,
        batch_size: int,
        seed: int,
        normalize: NormalizeParams = NormalizeParams(),
        buckets: int = 8,
        max_width_px: int = 3200,
        page_fraction: float = 0.1,
        neighbour_fraction: float = 0.35,
        typewriter_fraction: float = 0.25,
        capitals_share: float = 0.0,
    ) -> None:
        self.codec = codec
        self.real = real
        # Synthetic lines are drawn when there are fonts to draw them in.
        self.fonts: dict[str, list[FontFace]] = {}
        for face in fonts:
            self.fonts.setdefault(face.family, []).append(face)
        self.synthetic = bool(fonts)
        self.real_fraction = real_fraction if fonts else 1.0
        self.batch_size = batch_size
        self.seed = seed
        self.normalize = normalize
        self.buckets = buckets
        self.max_width_px = max_width_px
        # Share of synthetic lines cut from whole rendered pages by our own page analysis.
        self.page_fraction = page_fraction
        self._page_lines: list[tuple[np.ndarray, str]] = []
        # Share of synthetic lines cut from between two neighbouring lines, as on a real page.
        self.neighbour_fraction = neighbour_fraction
        # Share of synthetic lines in a typewriter face. Picked family by family, typewriters
        # would be 5 of 57 families, yet typed pages are what this project reads most.
        self.typewriter_fraction = typewriter_fraction
        self.capitals_share = capitals_share  # of the synthetic texts (TextSource)

    def _text_for(self, face, rng, text_source) -> str:
        """A line of text the font can draw (fonts lack some of the rarer characters)."""
        from scandex.training.render import dashes_seen_as_hyphens, supported_characters

        allowed = supported_characters(face.path, self.codec.alphabet)
        # What the line shows, not what was typed: a dash drawn as the hyphen is one.
        seen = dashes_seen_as_hyphens(face.path)
        for _ in range(10):
            text = normalize_text(text_source.line()).translate(seen)
            if text and all(ch in allowed for ch in text):
                return text
        return "".join(ch for ch in text if ch in allowed).strip() or "a"

    def _face(self, rng: random.Random) -> FontFace:
        """Family-balanced within typewriter and other faces: families with many files are
        not favoured."""
        typewriters = sorted(f for f, faces in self.fonts.items() if faces[0].is_typewriter)
        others = sorted(f for f in self.fonts if f not in typewriters)
        use_typewriter = typewriters and (not others or rng.random() < self.typewriter_fraction)
        family = rng.choice(typewriters if use_typewriter else others)
        return rng.choice(self.fonts[family])

    def _sample(self, rng, text_source) -> tuple[np.ndarray, str]:
        from scandex.training.pages import segmented_lines
        from scandex.training.render import render_line

        if self.real and (not self.synthetic or rng.random() < self.real_fraction):
            sample = rng.choice(self.real)
            return augment_real(sample.image, rng), sample.text
        face = self._face(rng)
        if rng.random() < self.page_fraction:
            if not self._page_lines:
                texts = [self._text_for(face, rng, text_source) for _ in range(rng.randint(3, 12))]
                self._page_lines = segmented_lines(texts, face, rng)
            if self._page_lines:
                return self._page_lines.pop()
        text = self._text_for(face, rng, text_source)
        neighbours = None
        if rng.random() < self.neighbour_fraction:
            neighbours = (
                self._text_for(face, rng, text_source),
                self._text_for(face, rng, text_source),
            )
        return render_line(text, face, rng, neighbours).image, text

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = random.Random(self.seed + (info.id if info else 0) * 7919)
        text_source = None
        if self.synthetic:
            from scandex.training.text import TextSource

            extra_lines = [sample.text for sample in self.real]
            text_source = TextSource(
                seed=rng.randrange(2**31),
                extra_lines=extra_lines,
                capitals_share=self.capitals_share,
            )
        while True:
            pool = []
            while len(pool) < self.batch_size * self.buckets:
                image, text = self._sample(rng, text_source)
                normalized = normalize_line(image, self.normalize).image
                if normalized.shape[1] > self.max_width_px:
                    continue
                label = self.codec.encode(text)
                if fits_ctc(label, output_steps(normalized.shape[1])):
                    pool.append((normalized, label))
            pool.sort(key=lambda item: item[0].shape[1])
            batches = [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
            rng.shuffle(batches)
            for batch in batches:
                yield collate([b[0] for b in batch], [b[1] for b in batch])
