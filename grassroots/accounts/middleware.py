from django.shortcuts import redirect
from django.urls import reverse

# Reachable while a password change is pending: the form itself, signing out, and what is not a
# page (the API — tokens act regardless —, static files, the public reads).
_OPEN_PREFIXES = ("/api/", "/open311/", "/static/", "/media/", "/track/")


class PasswordChangeMiddleware:
    """An account whose password an administrator chose (a new account, a reset) is led to the
    change form from every page until it sets its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.must_change_password:
            target = reverse("accounts:password")
            if request.path not in (target, reverse("logout")) and not request.path.startswith(_OPEN_PREFIXES):
                return redirect(f"{target}?next={request.get_full_path()}" if request.method == "GET" else target)
        return self.get_response(request)
