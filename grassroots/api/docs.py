"""/api/docs served entirely from this server.

ninja's Swagger page loads its JavaScript from a CDN unless "ninja" is an installed app.
Government intranets (政务外网) usually have no Internet, so the page would be blank
there; we serve the Swagger UI files bundled inside the ninja package ourselves.
"""

import json
import mimetypes
from pathlib import Path

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from ninja.openapi.docs import DocsBase

ASSET_DIR = Path(ninja.__file__).parent / "static" / "ninja"
# Only these files are served: the asset view must not become a way to read the package.
ASSETS = {
    "css": "swagger-ui.css",
    "bundle": "swagger-ui-bundle.js",
    "init": "swagger-ui-init.js",
    "favicon": "favicon.svg",
}


class LocalSwagger(DocsBase):
    settings = {"layout": "BaseLayout", "deepLinking": True, "persistAuthorization": False}

    def render_page(self, request: HttpRequest, api, **kwargs) -> HttpResponse:
        openapi_url = self.get_openapi_url(api, kwargs)
        context = {
            "api": api,
            "openapi_url": openapi_url,
            "swagger_settings": json.dumps({**self.settings, "url": openapi_url}).replace("</", "<\\/"),
            "assets": {key: reverse("api-docs-asset", args=[name]) for key, name in ASSETS.items()},
        }
        return render(request, "api/docs.html", context)


@require_GET
@cache_control(public=True, max_age=86400)
def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    if name not in ASSETS.values():
        raise Http404("文件不存在")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse((ASSET_DIR / name).open("rb"), content_type=content_type)
