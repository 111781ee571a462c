"""The interactive docs: Swagger UI at /docs and ReDoc at /redoc, with their assets served by
this service (so they work without internet) and page policies that allow what they load.

The assets come from the `fastapi-offline` package, which ships the Swagger UI and ReDoc
bundles that FastAPI otherwise loads from a CDN; the pages are FastAPI's own.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.staticfiles import PathLike
from starlette.types import Scope

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
# The package's version is in the path, so a browser may keep each file for good.
ASSETS_URL = f"{DOCS_URL}/assets/{version('fastapi-offline')}"
_ASSETS_DIRECTORY = Path(fastapi_offline.__file__).parent / "static"
_IMMUTABLE = "public, max-age=31536000, immutable"

# The token endpoint ignores client credentials, yet Swagger UI's password-flow dialog always
# shows client_id and client_secret (client_id marked required): hide them, and the choice
# of where to send them, so a person sees only the email and password the service wants.
_SWAGGER_UI_STYLE = """
.swagger-ui .auth-container .wrapper:has(> label[for^="client_"]),
.swagger-ui .auth-container .wrapper:has(> label[for="password_type"]) { display: none; }
"""

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


@dataclass(frozen=True)
class DocsPage:
    html: str
    policy: str


def install_docs(app: FastAPI) -> dict[str, str]:
    """Add the docs pages and their assets; returns each page's Content-Security-Policy."""
    assert app.openapi_url is not None
    swagger_ui = _page(
        get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            # Only the password flow is offered: no redirect page is needed.
            oauth2_redirect_url=None,
            swagger_ui_parameters=app.swagger_ui_parameters,
        ),
        extra_style=_SWAGGER_UI_STYLE,
    )
    redoc = _page(
        get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        ),
        # ReDoc styles itself with styled-components, which writes <style> elements at run
        # time, and builds its search index in a worker started from a blob: URL.
        styles_written_at_run_time=True,
        workers_from_blobs=True,
    )
    app.mount(ASSETS_URL, _ImmutableStaticFiles(directory=_ASSETS_DIRECTORY), name="docs-assets")
    for path, page in ((DOCS_URL, swagger_ui), (REDOC_URL, redoc)):
        app.add_api_route(
            path, _page_endpoint(page), methods=["GET", "HEAD"], include_in_schema=False
        )
    return {DOCS_URL: swagger_ui.policy, REDOC_URL: redoc.policy}


def _page(
    response: HTMLResponse,
    *,
    extra_style: str = "",
    styles_written_at_run_time: bool = False,
    workers_from_blobs: bool = False,
) -> DocsPage:
    html = bytes(response.body).decode()
    if extra_style:
        html = html.replace("</head>", f"<style>{extra_style}</style>\n</head>", 1)
    # Inline code is allowed by its hash, so the page runs exactly what it was built with.
    scripts = " ".join(_hash_source(body) for body in _INLINE_SCRIPT.findall(html))
    if styles_written_at_run_time:
        styles = "'unsafe-inline'"
    else:
        styles = " ".join(_hash_source(body) for body in _INLINE_STYLE.findall(html))
    directives = [
        "default-src 'none'",
        f"script-src 'self' {scripts}".strip(),
        f"style-src 'self' {styles}".strip(),
        # Both bundles draw their icons as data: images; the favicon is the service's.
        "img-src 'self' data:",
        "connect-src 'self'",
        *(["worker-src blob:"] if workers_from_blobs else []),
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
    return DocsPage(html=html, policy="; ".join(directives))


def _hash_source(content: str) -> str:
    digest = hashlib.sha256(content.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def _page_endpoint(page: DocsPage) -> Callable[[], Awaitable[HTMLResponse]]:
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(page.html)

    return docs_page


class _ImmutableStaticFiles(StaticFiles):
    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = _IMMUTABLE
        return response
