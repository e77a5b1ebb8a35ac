from django.shortcuts import render

from grassroots.accounts.permissions import Denied


class DeniedMiddleware:
    """Answer a role-level refusal with a Chinese 403 page (the denial is already audited)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, Denied):
            return render(request, "403.html", {"message": exception.message}, status=403)
        return None
