"""The headers that keep what the platform serves from being turned into code (docs/security.md).

The Content-Security-Policy itself is django-csp's (settings.CONTENT_SECURITY_POLICY); this module
builds the one part that depends on the deployment (the tile server's host, which the map's images
come from) and adds the Permissions-Policy header Django has no setting for.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


def tile_source(url: str) -> str | None:
    """The CSP source that allows images from a tile URL template, or None when nothing is needed.

    ``https://{s}.tile.example.gov.cn/{z}/{x}/{y}.png`` → ``https://*.tile.example.gov.cn``;
    ``/tiles/{z}/{x}/{y}.png`` (served by this host) → None ('self' already covers it).
    """
    url = (url or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    labels = host.split(".")
    if "{" in labels[0]:
        labels[0] = "*"  # the {s} subdomain template: CSP allows a wildcard as the leftmost label only
    if any("{" in label for label in labels):
        raise ValueError(f"MAP_TILE_URL：瓦片服务器主机名中只有第一段可以使用 {{s}} 等占位符：{url}")
    scheme = parts.scheme or "https"
    return f"{scheme}://{'.'.join(labels)}"


class PermissionsPolicyMiddleware:
    """Permissions-Policy on every answer: the phone's location and camera for this site only
    (grid workers report with them), the rest of the powerful features for nobody."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = policy
        return response
