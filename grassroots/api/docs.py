"""/api/docs served entirely from this server, and only to those who may read it.

ninja's Swagger page loads its JavaScript from a CDN unless "ninja" is an installed app.
Government intranets (政务外网) usually have no Internet, so the page would be blank
there; we serve the Swagger UI files bundled inside the ninja package ourselves.

The docs and the schema list every endpoint and parameter of the platform, so they are for
callers: a signed-in session or a valid API token (`Authorization: Bearer gr_…`). An
operator who wants them public (an open data portal) sets API_DOCS_PUBLIC=1. Without
either, /api/docs sends a browser to the sign-in page and /api/openapi.json answers 401.
"""

import json
import mimetypes
from functools import wraps
from pathlib import Path

import ninja
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
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


def _may_read_docs(request: HttpRequest) -> bool:
    from grassroots.accounts.services import user_for_token

    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active:
        return True
    scheme, _, raw = request.headers.get("Authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer" and bool(raw.strip()) and user_for_token(raw.strip()) is not None


def docs_access(view):
    """ninja's docs_decorator: wraps both /api/docs and /api/openapi.json."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if settings.API_DOCS_PUBLIC or _may_read_docs(request):
            return view(request, *args, **kwargs)
        if request.path.endswith(".json"):
            from grassroots.api.errors import UNAUTHENTICATED_MESSAGE

            response = JsonResponse({"detail": UNAUTHENTICATED_MESSAGE}, status=401,
                                    json_dumps_params={"ensure_ascii": False})
            response["WWW-Authenticate"] = 'Bearer realm="grassroots"'
            return response
        return redirect_to_login(request.get_full_path())

    return guarded


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
