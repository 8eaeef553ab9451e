"""`scandex serve`: search the index in a browser and see every hit marked on its scan.

    library.py   what may be shown: searches, scans by opaque id, files under watched folders
    images.py    a page of any scan as a small JPEG for the browser, and the pages' sizes
    cache.py     a bounded folder of those images under state_dir/web-cache
    iiif.py      IIIF Presentation 3 manifests and Content Search 2.0 / 1.0 answers
    app.py       the routes, the pages (templates/, static/) and the guard (Host, token)
    server.py    serve(): uvicorn on web.host/web.port, READY for systemd, clean stop

Needs the `web` extra (Starlette, uvicorn, Jinja2, Pillow); nothing here is imported by the
daemon or the other commands.
"""

from __future__ import annotations

from scandex.web.app import create_app

__all__ = ["create_app"]
