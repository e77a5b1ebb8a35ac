"""The REST API (django-ninja). OpenAPI docs at /api/docs."""

from ninja import NinjaAPI

api = NinjaAPI(title="grassroots 基层治理平台 API", version="1", urls_namespace="api")
