"""`scandex serve` in process: pages, JSON API, IIIF, files, and what must never be served."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient
from typer.testing import CliRunner
from web_scans import PAGE_SIZE, index_documents, workspace_config, write_scan

from scandex.cli import app as cli_app
from scandex.config import Config
from scandex.ocr.hocr import write_hocr
from scandex.page import Document
from scandex.web import create_app
from scandex.web.library import Library, ResultPage, doc_id

pytestmark = pytest.mark.timeout(60)

LOCAL = "http://127.0.0.1:8421"


@pytest.fixture
def archive(tmp_path: Path) -> dict[str, object]:
    """Three scans (one of two pages, with hOCR and a PDF beside it) in an index."""
    config = workspace_config(tmp_path)
    scans = tmp_path / "scans"
    treaty = write_scan(
        scans / "1934" / "treaty.png",
        ["The treaty was signed on August 5, 1934.", "Witnessed in Geneva."],
    )
    letter = write_scan(scans / "letter.png", ["Your letter of Augnst 12 arrived."])
    ledger = write_scan(
        scans / "ledger.tif",
        ["Ledger of the harbour company"],
        ["Paid in August for the treaty copies", "treaty treaty"],
    )
    hocr = scans / "ledger.hocr"
    write_hocr(ledger, hocr)
    (scans / "ledger.ocr.pdf").write_bytes(b"%PDF-1.7 searchable\n")
    index_documents(config, [(treaty, None), (letter, None), (ledger, str(hocr))])
    return {
        "config": config,
        "treaty": treaty,
        "letter": letter,
        "ledger": ledger,
        "root": tmp_path,
    }


@pytest.fixture
def client(archive: dict[str, object]) -> Iterator[TestClient]:
    config = archive["config"]
    assert isinstance(config, Config)
    with TestClient(create_app(config), base_url=LOCAL) as test_client:
        yield test_client


def _doc(archive: dict[str, object], name: str) -> str:
    return doc_id(archive[name].path)  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- the pages


def test_the_search_page_shows_each_hit_on_its_thumbnail(client, archive) -> None:
    page = client.get("/", params={"q": "Geneva"})
    assert page.status_code == 200
    html = page.text
    doc = _doc(archive, "treaty")
    assert f'/image/{doc}/1/thumb.jpg"' in html
    assert f'viewBox="0 0 {PAGE_SIZE[0]} {PAGE_SIZE[1]}"' in html
    geneva = archive["treaty"].pages[0].lines[1].words[-1].bbox  # type: ignore[attr-defined]
    rect = f'x="{geneva.x0}" y="{geneva.y0}" width="{geneva.width}" height="{geneva.height}"'
    assert rect in html
    assert "Witnessed in <mark>Geneva.</mark>" in html
    assert "treaty.png" in html and "page 1" in html and "score" in html


def test_the_search_page_without_a_query_explains_the_syntax(client) -> None:
    html = client.get("/").text
    assert '<label class="query">' in html and 'name="q"' in html and 'name="fuzzy"' in html
    assert "Aug*" in html and "<ol" not in html


def test_fuzzy_and_folder_filters(client, archive) -> None:
    def names(**params: str) -> list[str]:
        html = client.get("/", params=params).text
        return re.findall(r'<a href="[^"]*">([^<]+)</a> <span class="pageno">', html)

    assert sorted(names(q="august")) == ["ledger.tif", "treaty.png"]
    assert "letter.png" in names(q="august", fuzzy="1")
    root = archive["root"]
    assert names(q="august", path=str(root / "scans" / "1934")) == ["treaty.png"]


def test_results_are_paged(tmp_path: Path) -> None:
    config = workspace_config(tmp_path)
    docs = [
        (
            write_scan(tmp_path / "scans" / f"s{n:02d}.png", [f"report number {n} " * (n % 3 + 1)]),
            None,
        )
        for n in range(23)
    ]
    index_documents(config, docs)
    with TestClient(create_app(config), base_url=LOCAL) as client:
        first = client.get("/", params={"q": "report"}).text
        assert (
            first.count('class="result"') == 10
            and 'rel="next"' in first
            and 'rel="prev"' not in first
        )
        third = client.get("/", params={"q": "report", "page": "3"}).text
        assert third.count('class="result"') == 3 and 'rel="next"' not in third
        assert 'rel="prev"' in third and '<ol class="results" start="21">' in third
        api = client.get("/api/search", params={"q": "report", "limit": "5", "offset": "20"})
        assert len(api.json()) == 3 and api.headers["x-more-results"] == "0"
        shown = set()
        for number in (1, 2, 3):
            html = client.get("/", params={"q": "report", "page": str(number)}).text
            shown |= set(re.findall(r"s\d\d\.png", html))
        assert len(shown) == 23


def test_the_page_view_marks_every_hit_in_image_and_text(client, archive) -> None:
    doc = _doc(archive, "ledger")
    page = client.get(f"/view/{doc}/2", params={"q": "treaty"})
    assert page.status_code == 200
    html = page.text
    ledger = archive["ledger"]
    words = [w for line in ledger.pages[1].lines for w in line.words if w.text == "treaty"]  # type: ignore[attr-defined]
    assert len(words) == 3
    for number, word in enumerate(words):
        box = word.bbox
        assert (
            f'id="hit-{number}" data-hit="{number}" x="{box.x0}" y="{box.y0}" '
            f'width="{box.width}" height="{box.height}"'
        ) in html
        assert f'<mark data-hit="{number}" tabindex="-1">treaty</mark>' in html
    assert "3 hits on this page" in html
    assert f'/image/{doc}/2/page.jpg"' in html
    assert f"/file/{doc}/hocr" in html and f"/file/{doc}/pdf" in html and f'/file/{doc}"' in html
    assert "page 2 of 2" in html
    # The other page, without hits, still shows its text and links to the page with them.
    first = client.get(f"/view/{doc}/1", params={"q": "treaty"}).text
    assert "Ledger of the harbour company" in first and "no hits on this page" in first
    assert 'class="has-hits"' in first


def test_the_page_image_and_thumbnail_are_jpegs_of_the_page_and_cached(client, archive) -> None:
    doc = _doc(archive, "ledger")
    for size, longest in (("thumb", 480), ("page", 1100)):
        response = client.get(f"/image/{doc}/2/{size}.jpg")
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        image = Image.open(io.BytesIO(response.content))
        assert max(image.size) == longest
        assert abs(image.size[0] / image.size[1] - PAGE_SIZE[0] / PAGE_SIZE[1]) < 0.01
    config = archive["config"]
    cached = list((config.state_dir / "web-cache").rglob("*.jpg"))  # type: ignore[attr-defined]
    assert len(cached) == 2
    again = client.get(f"/image/{doc}/2/page.jpg")
    etag = again.headers["etag"]
    assert (
        client.get(f"/image/{doc}/2/page.jpg", headers={"if-none-match": etag}).status_code == 304
    )


def test_downloads_are_the_files_themselves(client, archive) -> None:
    doc = _doc(archive, "ledger")
    root = archive["root"]
    scan = client.get(f"/file/{doc}")
    assert scan.content == (root / "scans" / "ledger.tif").read_bytes()  # type: ignore[operator]
    assert 'filename="ledger.tif"' in scan.headers["content-disposition"]
    hocr = client.get(f"/file/{doc}/hocr")
    assert hocr.status_code == 200 and b"ocr_page" in hocr.content
    assert client.get(f"/file/{doc}/pdf").content.startswith(b"%PDF")
    treaty = _doc(archive, "treaty")
    assert client.get(f"/file/{treaty}/hocr").status_code == 404
    assert client.get(f"/file/{treaty}/pdf").status_code == 404


# ----------------------------------------------------------------------------- the API


def test_api_search_answers_what_the_cli_answers_plus_doc_and_view(client, archive) -> None:
    config = archive["config"]
    root = archive["root"]
    (root / "config.toml").write_text(  # type: ignore[operator]
        'state_dir = "state"\n[watch]\npaths = ["scans"]\n', encoding="utf-8"
    )
    cli = CliRunner().invoke(
        cli_app,
        ["search", "august OR geneva", "--format", "json", "--config", str(root / "config.toml")],  # type: ignore[operator]
    )
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.stdout)
    answer = client.get("/api/search", params={"q": "august OR geneva"})
    assert answer.status_code == 200
    hits = answer.json()
    assert [{k: v for k, v in hit.items() if k not in ("doc", "view")} for hit in hits] == expected
    for hit in hits:
        assert hit["doc"] == doc_id(hit["path"])
        assert hit["view"] == f"{LOCAL}/view/{hit['doc']}/{hit['page']}?q=august+OR+geneva"
        assert client.get(hit["view"]).status_code == 200
    assert config


def test_api_search_options_and_bounds(client) -> None:
    assert len(client.get("/api/search", params={"q": "august", "limit": "1"}).json()) == 1
    assert len(client.get("/api/search", params={"q": "augnst", "fuzzy": "1"}).json()) == 3
    for params, fragment in (
        ({"q": '"unclosed'}, "unclosed quote"),
        ({"q": ""}, "empty query"),
        ({"q": "a" * 501}, "longer than 500"),
        ({"q": " ".join(f"w{n}" for n in range(33))}, "at most 32"),
        ({"q": "august", "limit": "101"}, "between 1 and 100"),
        ({"q": "august", "limit": "ten"}, "whole number"),
        ({"q": "august", "offset": "5000"}, "at most at 1000"),
    ):
        answer = client.get("/api/search", params=params)
        assert answer.status_code == 400, params
        assert fragment in answer.json()["error"]
    page = client.get("/", params={"q": '"unclosed'})
    assert page.status_code == 400 and "unclosed quote" in page.text


def test_api_status_is_what_scandex_status_prints(client, archive) -> None:
    from scandex.daemon.status import read_status

    answer = client.get("/api/status").json()
    expected = read_status(archive["config"])  # type: ignore[arg-type]
    assert answer["index"] == expected["index"] and answer["counts"] == expected["counts"]
    assert set(answer) == set(expected)


# ----------------------------------------------------------------------------- IIIF


def test_the_iiif_manifest_has_one_canvas_per_page_in_page_pixels(client, archive) -> None:
    doc = _doc(archive, "ledger")
    answer = client.get(f"/iiif/{doc}/manifest")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/ld+json")
    manifest = answer.json()
    assert_shaped_like(manifest, MANIFEST_EXAMPLE, constants=("type", "motivation", "@context"))
    base = f"{LOCAL}/iiif/{doc}"
    assert manifest["@context"] == "http://iiif.io/api/presentation/3/context.json"
    assert manifest["id"] == f"{base}/manifest" and manifest["type"] == "Manifest"
    assert manifest["label"] == {"none": ["ledger.tif"]}
    assert [c["id"] for c in manifest["items"]] == [f"{base}/canvas/1", f"{base}/canvas/2"]
    for number, canvas in enumerate(manifest["items"], start=1):
        assert (canvas["type"], canvas["width"], canvas["height"]) == ("Canvas", *PAGE_SIZE)
        (annotation_page,) = canvas["items"]
        (painting,) = annotation_page["items"]
        assert annotation_page["type"] == "AnnotationPage"
        assert painting["motivation"] == "painting" and painting["target"] == canvas["id"]
        body = painting["body"]
        assert body["type"] == "Image" and body["format"] == "image/jpeg"
        assert body["id"] == f"{LOCAL}/image/{doc}/{number}/page.jpg"
        assert client.get(body["id"]).status_code == 200
    services = manifest["service"]
    assert {"id": f"{base}/search", "type": "SearchService2"} in services
    assert {
        "@id": f"{base}/search/v1",
        "@type": "SearchService1",
        "profile": "http://iiif.io/api/search/1/search",
    } in services


# The specifications' own examples of word-level hits with the text around them: Content
# Search 2.0 section 3.4.2 and Content Search 1.0 section 3.4.2 ("Search Term Snippets").
SEARCH_2_EXAMPLE = {
    "@context": [
        "http://iiif.io/api/presentation/3/context.json",
        "http://iiif.io/api/search/2/context.json",
    ],
    "id": "http://example.org/service/manifest/search?q=bird",
    "type": "AnnotationPage",
    "items": [
        {
            "id": "http://example.org/identifier/annotation/anno-bird",
            "type": "Annotation",
            "motivation": "painting",
            "body": {"type": "TextualBody", "value": "birds", "format": "text/plain"},
            "target": "http://example.org/identifier/canvas1#xywh=200,100,40,20",
        }
    ],
    "annotations": [
        {
            "type": "AnnotationPage",
            "partOf": {
                "id": "http://example.org/service/manifest/search?q=bird",
                "type": "AnnotationCollection",
                "total": 129,
            },
            "items": [
                {
                    "id": "http://example.org/identifier/annotation/match-1",
                    "type": "Annotation",
                    "motivation": "contextualizing",
                    "target": {
                        "type": "SpecificResource",
                        "source": "http://example.org/identifier/annotation/anno-bird",
                        "selector": [
                            {
                                "type": "TextQuoteSelector",
                                "prefix": "There are two ",
                                "exact": "birds",
                                "suffix": " in the bush",
                            }
                        ],
                    },
                }
            ],
        }
    ],
}
SEARCH_1_EXAMPLE = {
    "@context": [
        "http://iiif.io/api/presentation/2/context.json",
        "http://iiif.io/api/search/1/context.json",
    ],
    "@id": "http://example.org/service/manifest/search?q=bird",
    "@type": "sc:AnnotationList",
    "resources": [
        {
            "@id": "http://example.org/identifier/annotation/anno-bird",
            "@type": "oa:Annotation",
            "motivation": "sc:painting",
            "resource": {"@type": "cnt:ContentAsText", "chars": "birds"},
            "on": "http://example.org/identifier/canvas1#xywh=200,100,40,20",
        }
    ],
    "hits": [
        {
            "@type": "search:Hit",
            "annotations": ["http://example.org/identifier/annotation/anno-bird"],
            "before": "There are two ",
            "after": " in the bush",
        }
    ],
}


# Presentation API 3.0 cookbook recipe 0001 ("Simplest Manifest - Single Image File"); the
# label in the "none" language, as the specification asks for a value without a language
# (a file name).
MANIFEST_EXAMPLE = {
    "@context": "http://iiif.io/api/presentation/3/context.json",
    "id": "https://iiif.io/api/cookbook/recipe/0001-mvm-image/manifest.json",
    "type": "Manifest",
    "label": {"none": ["Single Image Example"]},
    "items": [
        {
            "id": "https://iiif.io/api/cookbook/recipe/0001-mvm-image/canvas/p1",
            "type": "Canvas",
            "height": 1800,
            "width": 1200,
            "items": [
                {
                    "id": "https://iiif.io/api/cookbook/recipe/0001-mvm-image/page/p1/1",
                    "type": "AnnotationPage",
                    "items": [
                        {
                            "id": "https://iiif.io/api/cookbook/recipe/0001-mvm-image/annotation/p0001-image",
                            "type": "Annotation",
                            "motivation": "painting",
                            "body": {
                                "id": "http://iiif.io/api/presentation/2.1/example/fixtures/resources/page1-full.png",
                                "type": "Image",
                                "format": "image/png",
                                "height": 1800,
                                "width": 1200,
                            },
                            "target": "https://iiif.io/api/cookbook/recipe/0001-mvm-image/canvas/p1",
                        }
                    ],
                }
            ],
        }
    ],
}


def assert_shaped_like(
    answer: object,
    example: object,
    where: str = "",
    constants: tuple[str, ...] = ("type", "motivation", "format", "@context"),
) -> None:
    """Everything the example has, `answer` has: the same keys, the same kinds of values, the
    same constants (types, motivations, contexts); lists item by item like the example's."""
    if isinstance(example, dict):
        assert isinstance(answer, dict), where
        for key, value in example.items():
            assert key in answer, f"{where}.{key} missing"
            assert_shaped_like(answer[key], value, f"{where}.{key}", constants)
    elif isinstance(example, list):
        assert isinstance(answer, list) and answer, where
        if all(isinstance(item, str) for item in example) and where.endswith("@context"):
            assert answer == example, where
            return
        for item in answer:
            assert_shaped_like(item, example[0], f"{where}[]", constants)
    else:
        assert type(answer) is type(example), where
        if where.rsplit(".", 1)[-1] in constants:
            assert answer == example, where


def test_iiif_content_search_2_has_the_specifications_shape(client, archive) -> None:
    doc = _doc(archive, "ledger")
    answer = client.get(f"/iiif/{doc}/search", params={"q": "treaty"}).json()
    assert_shaped_like(answer, SEARCH_2_EXAMPLE)
    words = [
        w for line in archive["ledger"].pages[1].lines for w in line.words if w.text == "treaty"
    ]  # type: ignore[attr-defined]
    targets = [item["target"] for item in answer["items"]]
    canvas = f"{LOCAL}/iiif/{doc}/canvas/2"
    assert targets == [
        f"{canvas}#xywh={w.bbox.x0},{w.bbox.y0},{w.bbox.width},{w.bbox.height}" for w in words
    ]
    assert "ignored" not in answer
    ignoring = client.get(f"/iiif/{doc}/search", params={"q": "treaty", "motivation": "x"})
    assert ignoring.json()["ignored"] == ["motivation"]  # section 3.4.1
    (context,) = answer["annotations"]
    assert context["partOf"]["total"] == 3
    first = context["items"][0]
    assert first["target"]["source"] == answer["items"][0]["id"]
    assert first["target"]["selector"] == [
        {
            "type": "TextQuoteSelector",
            "prefix": "Paid in August for the ",
            "exact": "treaty",
            "suffix": " copies",
        }
    ]


def test_iiif_content_search_1_has_the_specifications_shape(client, archive) -> None:
    doc = _doc(archive, "treaty")
    answer = client.get(f"/iiif/{doc}/search/v1", params={"q": "geneva"}).json()
    assert_shaped_like(answer, SEARCH_1_EXAMPLE)
    assert answer["within"] == {"@type": "sc:Layer", "total": 1}  # section 3.3.2
    ignoring = client.get(f"/iiif/{doc}/search/v1", params={"q": "geneva", "user": "me"}).json()
    assert ignoring["within"]["ignored"] == ["user"]  # section 3.4.1
    box = archive["treaty"].pages[0].lines[1].words[-1].bbox  # type: ignore[attr-defined]
    (resource,) = answer["resources"]
    assert (
        resource["on"]
        == f"{LOCAL}/iiif/{doc}/canvas/1#xywh={box.x0},{box.y0},{box.width},{box.height}"
    )
    assert resource["resource"]["chars"] == "Geneva."
    assert answer["hits"][0]["annotations"] == [resource["@id"]]
    assert answer["hits"][0]["before"] == "Witnessed in "


# ----------------------------------------------------------------------------- safety


def test_ids_paths_traversal_and_unknown_ids_get_404(client, archive) -> None:
    doc = _doc(archive, "treaty")
    for url in (
        "/view/0123456789abcdef0123/1",
        "/view/not-an-id/1",
        f"/view/{doc}/7",
        "/file/..%2F..%2F..%2Fetc%2Fpasswd",
        "/file/../../etc/passwd",
        f"/file/{doc}/../../../../etc/passwd",
        "/image/..%2Fstate%2Fstate.sqlite3/1/page.jpg",
        f"/image/{doc}/1/huge.jpg",
        "/static/../app.py",
        "/static/..%2Fapp.py",
        "/iiif/0123456789abcdef0123/manifest",
        "/etc/passwd",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert "Traceback" not in answer.text


def test_a_link_out_of_the_watched_folders_is_never_served(tmp_path: Path) -> None:
    config = workspace_config(tmp_path / "home")
    secret = write_scan(tmp_path / "outside" / "secret.png", ["confidential salary list"])
    link = tmp_path / "home" / "scans" / "innocent.png"
    link.symlink_to(secret.path)
    index_documents(config, [(Document(str(link), secret.pages), None)])
    with TestClient(create_app(config), base_url=LOCAL) as client:
        doc = doc_id(str(link))
        hits = client.get("/api/search", params={"q": "salary"}).json()
        assert [hit["doc"] for hit in hits] == [doc]  # it is in the index ...
        assert client.get(f"/file/{doc}").status_code == 404  # ... but its file is not served
        assert client.get(f"/image/{doc}/1/page.jpg").status_code == 404
        view = client.get(f"/view/{doc}/1")
        assert view.status_code == 200 and "The scan is missing" in view.text
        assert "/image/" not in view.text


def test_a_deleted_scan_says_so_and_a_removed_one_is_gone(client, archive) -> None:
    from scandex.indexer import open_index

    doc = _doc(archive, "letter")
    Path(archive["letter"].path).unlink()  # type: ignore[attr-defined]
    results = client.get("/", params={"q": "letter"})
    assert results.status_code == 200 and "The scan is missing" in results.text
    view = client.get(f"/view/{doc}/1", params={"q": "letter"})
    assert view.status_code == 200 and "The scan is missing" in view.text
    assert '<mark data-hit="0" tabindex="-1">letter</mark>' in view.text
    assert client.get(f"/image/{doc}/1/thumb.jpg").status_code == 404
    assert client.get(f"/file/{doc}").status_code == 404
    index = open_index(archive["config"].index_dir, writable=True)  # type: ignore[attr-defined]
    index.remove(archive["letter"].path)  # type: ignore[attr-defined]
    index.commit()
    index.close()
    assert client.get(f"/view/{doc}/1").status_code == 404


def test_a_token_is_required_when_set(archive) -> None:
    config = workspace_config(archive["root"], token="s3cret-token", host="0.0.0.0")  # type: ignore[arg-type]
    with TestClient(
        create_app(config, allowed_hosts=None), base_url="http://scans.example"
    ) as client:
        for url in (
            "/",
            "/?q=treaty",
            "/api/search?q=treaty",
            "/api/status",
            "/static/scandex.css",
        ):
            answer = client.get(url)
            assert answer.status_code == 401, url
            assert answer.headers["www-authenticate"].startswith("Basic")
        assert (
            client.get("/api/status", headers={"authorization": "Bearer wrong"}).status_code == 401
        )
        bearer = {"authorization": "Bearer s3cret-token"}
        assert client.get("/api/search?q=treaty", headers=bearer).status_code == 200
        basic = base64.b64encode(b"anyone:s3cret-token").decode()
        page = client.get("/?q=treaty", headers={"authorization": f"Basic {basic}"})
        assert page.status_code == 200 and "treaty.png" in page.text
        assert client.get("/", headers={"authorization": "Basic !!!"}).status_code == 401


def test_nothing_can_be_written(client, archive) -> None:
    doc = _doc(archive, "treaty")
    for url in ("/", "/api/search?q=treaty", f"/view/{doc}/1", f"/file/{doc}", "/api/status"):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert client.request(method, url).status_code == 405, (method, url)


def test_a_foreign_host_name_is_refused_on_loopback(client) -> None:
    assert client.get("/", headers={"host": "evil.example:8421"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8421"}).status_code == 200
    assert client.get("/", headers={"host": "[::1]:8421"}).status_code == 200


def test_other_sites_read_iiif_only_from_the_origins_configured(archive) -> None:
    doc = _doc(archive, "treaty")
    viewer = "https://viewer.example.org"
    for origins, expected in (((), None), ((viewer,), viewer), (("*",), "*")):
        config = workspace_config(archive["root"], cors_origins=list(origins))  # type: ignore[arg-type]
        with TestClient(create_app(config), base_url=LOCAL) as client:
            for url in (f"/iiif/{doc}/manifest", f"/image/{doc}/1/page.jpg", "/api/status"):
                answer = client.get(url, headers={"origin": viewer})
                allowed = answer.headers.get("access-control-allow-origin")
                assert allowed == (expected if url != "/api/status" else None), (origins, url)


def test_pages_carry_a_strict_content_security_policy(client) -> None:
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


class SlowLibrary(Library):
    """A real library whose searches wait until released: a pathological query."""

    def __init__(self, config: Config) -> None:
        super().__init__(config, timeout_seconds=0.3)
        self.release = threading.Event()

    def search(self, query: str, **options: object) -> ResultPage:  # type: ignore[override]
        self.release.wait(30)
        return ResultPage([], more=False)


def test_a_slow_search_answers_503_and_the_site_keeps_answering(archive) -> None:
    config = workspace_config(archive["root"], search_timeout_seconds=0.3)  # type: ignore[arg-type]
    library = SlowLibrary(config)
    with TestClient(create_app(config, library=library), base_url=LOCAL) as client:
        try:
            slow = client.get("/api/search", params={"q": "treaty"})
            assert slow.status_code == 503 and "longer than 0.3 s" in slow.json()["error"]
            page = client.get("/", params={"q": "treaty"})
            assert page.status_code == 503 and "try a narrower query" in page.text
            assert client.get("/static/scandex.css").status_code == 200
            assert client.get("/api/status").status_code == 200
        finally:
            library.release.set()


class BrokenLibrary(Library):
    def search(self, query: str, **options: object) -> ResultPage:  # type: ignore[override]
        raise RuntimeError("disk on fire at /secret/place")


def test_an_internal_error_is_a_plain_message_never_a_trace(archive) -> None:
    config = archive["config"]
    app = create_app(config, library=BrokenLibrary(config))  # type: ignore[arg-type]
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as client:
        for url in ("/?q=treaty", "/api/search?q=treaty"):
            answer = client.get(url)
            assert answer.status_code == 500
            assert "internal error" in answer.text
            assert "disk on fire" not in answer.text and "Traceback" not in answer.text


def test_before_the_first_index_the_site_says_what_to_do(tmp_path: Path) -> None:
    config = workspace_config(tmp_path)
    with TestClient(create_app(config), base_url=LOCAL) as client:
        page = client.get("/", params={"q": "treaty"})
        assert page.status_code == 503 and "scandex run" in page.text
        assert client.get("/api/search", params={"q": "x"}).status_code == 503
        assert client.get("/").status_code == 200


def test_the_library_pool_serves_threads_at_once(archive) -> None:
    library = Library(archive["config"], readers=2)  # type: ignore[arg-type]
    results: list[int] = []

    def work() -> None:
        for _ in range(5):
            results.append(len(library.search("august").hits))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    library.close()
    assert results == [2] * 20
