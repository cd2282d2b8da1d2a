"""The interactive API documentation at /docs: APIFlask's Swagger UI page, served offline.

APIFlask's page loads Swagger UI from a CDN by default; here its script and stylesheet come
from the `offapi` package (Swagger UI 5, which renders OpenAPI 3.1), so /docs works on a
network that cannot reach the internet.
"""

from __future__ import annotations

from importlib import resources

from apiflask import APIFlask
from flask import Blueprint, Response, abort

from userauth.settings import Settings
from userauth.web.schemas import Error, security_schemes

# What the page may load: the files offapi ships, under the names the page asks for.
ASSETS = {
    "swagger-ui.css": ("swagger_style.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": ("swagger_bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui-standalone-preset.js": ("swagger_preset.js", "text/javascript; charset=utf-8"),
}
# A day: the files change only when offapi is upgraded.
ASSET_MAX_AGE = 86400

docs_assets = Blueprint("docs_assets", __name__)


@docs_assets.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    """Serve one of Swagger UI's files."""
    if name not in ASSETS:
        abort(404)
    filename, content_type = ASSETS[name]
    body = (resources.files("offapi") / filename).read_bytes()
    response = Response(body, content_type=content_type)
    response.cache_control.public = True
    response.cache_control.max_age = ASSET_MAX_AGE
    return response


def configure_api_documentation(app: APIFlask, settings: Settings) -> None:
    """Set how the OpenAPI document describes the API, and serve /docs without a CDN."""
    app.config.update(
        SECURITY_SCHEMES=security_schemes(settings.session_cookie_name),
        DESCRIPTION="User accounts, sessions and password resets. Bodies are forms or JSON "
        'objects with the same fields; every error answers {"message": ...}.',
        # Bad input is a 400 {"message": ...} (web/errors.py), never webargs' 422.
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_DESCRIPTION="A field is missing, empty, too long or malformed.",
        VALIDATION_ERROR_SCHEMA=Error,
        HTTP_ERROR_SCHEMA=Error,
        # A cookie session is not HTTP authentication: no 401 is added to its routes.
        AUTO_AUTH_ERROR_RESPONSE=False,
        DOCS_FAVICON="data:,",
        # This site, relative: never a request's Host. APIFlask's default writes the first
        # request's URL root into the cached document, so one forged Host would make /docs'
        # "Try it out" send every later reader's credentials there (issue 21, item 6).
        SERVERS=[{"url": "/"}],
        AUTO_SERVERS=False,
        # Relative to /docs, so the page also works behind a proxy that adds a path prefix.
        SWAGGER_UI_CSS="docs/assets/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS="docs/assets/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS="docs/assets/swagger-ui-standalone-preset.js",
    )
    app.register_blueprint(docs_assets)
