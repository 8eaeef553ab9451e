"""`scandex serve` on an indexed PDF: its pages are shown as the OCR saw them (same geometry,
so each hit's box lands on its word), and its searchable PDF is offered."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pdfs
import pytest
from PIL import Image
from starlette.testclient import TestClient
from web_scans import index_documents, workspace_config

from scandex.daemon.searchable_pdfs import pdf_beside
from scandex.ocr.hocr import write_hocr
from scandex.pdf.ocr import ocr_pdf
from scandex.pdf.writer import searchable_pdf
from scandex.web import create_app
from scandex.web.images import page_sizes, render_page
from scandex.web.library import doc_id

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def test_serve_shows_pdf_pages_and_their_searchable_pdf(tmp_path: Path) -> None:
    config = workspace_config(tmp_path)
    scan = pdfs.small_scan(6, dpi=150)
    stored = np.ascontiguousarray(np.rot90(scan.image, 1))
    data = pdfs.joined(
        pdfs.edited(pdfs.scans_pdf([pdfs.encode(stored, "jpeg", 150)]), p1={"/Rotate": 90}),
        pdfs.born_digital([("Minutes of the harbour board", 72, 700, 18)]),
    )
    path = tmp_path / "scans" / "minutes.pdf"
    path.write_bytes(data)
    result = ocr_pdf(data, str(path))
    hocr = path.with_name("minutes.hocr")
    write_hocr(result.document, hocr)
    pdf_beside(hocr).write_bytes(searchable_pdf(data, [result.document.pages[0]]))
    index_documents(config, [(result.document, str(hocr))])

    # The page geometry the web uses is the OCR's, page by page, without rendering.
    assert page_sizes(path) == tuple((p.width, p.height) for p in result.document.pages)
    jpeg = Image.open(io.BytesIO(render_page(path, 1, max_side_px=400, max_pixels=10**8)))
    assert max(jpeg.size) == 400
    assert jpeg.size[0] / jpeg.size[1] == pytest.approx(1700 / 1400, rel=0.01)  # upright

    doc = doc_id(str(path))
    with TestClient(create_app(config), base_url="http://127.0.0.1:8421") as client:
        page = client.get(f"/view/{doc}/1", params={"q": "harbour"})
        assert page.status_code == 200, page.text
        image = client.get(f"/image/{doc}/2/thumb.jpg")
        assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"
        searchable = client.get(f"/file/{doc}/pdf")
        assert searchable.status_code == 200
        assert searchable.content == pdf_beside(hocr).read_bytes()
