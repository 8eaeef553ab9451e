"""PDFs made in code for the PDF tests: scans wrapped by img2pdf (JPEG, PNG, G4 TIFF), pages
turned or cropped with pikepdf, born-digital pages written as content streams with a standard
font, encrypted and truncated files. Every maker returns the PDF's bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

import img2pdf
import numpy as np
import pikepdf
from PIL import Image
from synth import SynthPage, render_page


def small_scan(seed: int = 1, *, dpi: int = 200, layout: str = "one_column") -> SynthPage:
    """A short page of text (8.5 x 7 inches): quick to OCR."""
    return render_page(layout, dpi=dpi, size_in=(8.5, 7.0), seed=seed)


def encode(gray: np.ndarray, kind: str, dpi: int) -> bytes:
    """The image as a file: "jpeg", "png" or "g4" (a bilevel TIFF, CCITT group 4)."""
    out = io.BytesIO()
    image = Image.fromarray(gray)
    if kind == "jpeg":
        image.save(out, "JPEG", quality=90, dpi=(dpi, dpi))
    elif kind == "png":
        image.save(out, "PNG", dpi=(dpi, dpi))
    elif kind == "g4":
        image.point(lambda v: 255 if v >= 128 else 0).convert("1").save(
            out, "TIFF", compression="group4", dpi=(dpi, dpi)
        )
    else:
        raise ValueError(kind)
    return out.getvalue()


def scans_pdf(images: Sequence[bytes]) -> bytes:
    """One page per image file, each image embedded as it is (img2pdf)."""
    return img2pdf.convert(list(images))


def edited(data: bytes, **pages: dict) -> bytes:
    """The PDF with page attributes changed: edited(pdf, p1={"/Rotate": 90})."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for key, changes in pages.items():
            page = pdf.pages[int(key[1:]) - 1]
            for name, value in changes.items():
                page.obj[name] = pikepdf.Array(value) if isinstance(value, list) else value
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def born_digital(
    lines: Sequence[tuple[str, float, float, float]], size_pt: tuple[float, float] = (612, 792)
) -> bytes:
    """A page of real text: (text, x, baseline y, font size) in points, Helvetica."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    ops = []
    for text, x, y, size in lines:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"BT /F1 {size} Tf {x} {y} Td ({escaped}) Tj ET")
    stream = pikepdf.Stream(pdf, "\n".join(ops).encode("latin-1"))
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, size_pt[0], size_pt[1]],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
        Contents=stream,
    )
    pdf.pages.append(pikepdf.Page(page))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def joined(*documents: bytes) -> bytes:
    """The pages of several PDFs, in order, in one."""
    pdf = pikepdf.new()
    opened = [pikepdf.open(io.BytesIO(d)) for d in documents]
    for other in opened:
        pdf.pages.extend(other.pages)
    out = io.BytesIO()
    pdf.save(out)
    for other in opened:
        other.close()
    return out.getvalue()


def encrypted(data: bytes, password: str = "secret") -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(user=password, owner=password + "!"))
        return out.getvalue()


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def drawn_with(data: bytes, ctm: Sequence[float], mediabox: Sequence[float]) -> bytes:
    """The first page's image drawn with another matrix on another MediaBox (all pages)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            name = next(iter(page.obj.Resources.XObject.keys()))
            matrix = " ".join(f"{v:g}" for v in ctm)
            page.obj.Contents = pdf.make_stream(f"q {matrix} cm {name} Do Q".encode())
            page.obj.MediaBox = pikepdf.Array(list(mediabox))
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def with_text_over(data: bytes, text: str, x: float, y: float, size: float, mode: int) -> bytes:
    """Every page with `text` drawn over it in Helvetica, text render mode `mode`
    (0: visible, a stamp; 3: invisible, an OCR layer)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        font = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
            )
        )
        for page in pdf.pages:
            resources = page.obj.Resources
            if "/Font" not in resources:
                resources.Font = pikepdf.Dictionary()
            resources.Font.Fstamp = font
            stream = f"BT {mode} Tr /Fstamp {size} Tf {x} {y} Td ({text}) Tj ET".encode()
            page.contents_add(pdf.make_stream(stream))
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()
