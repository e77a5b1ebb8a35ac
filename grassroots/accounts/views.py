from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from grassroots.accounts import services
from grassroots.accounts.forms import LoginForm, TokenForm
from grassroots.accounts.models import AuditEvent, User
from grassroots.accounts.permissions import regions_q, require, sees_everything
from grassroots.accounts.roles import Action, Role


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


@login_required
def profile(request):
    form = TokenForm()
    new_token = None
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            _, new_token = services.create_api_token(
                request.user, form.cleaned_data["name"], days=form.cleaned_data["days"], request=request
            )
            form = TokenForm()
    tokens = request.user.api_tokens.all()
    return render(request, "accounts/profile.html", {"form": form, "tokens": tokens, "new_token": new_token})


@login_required
@require_POST
def revoke_token(request, token_id: int):
    if services.revoke_api_token(request.user, token_id, request=request):
        messages.success(request, "令牌已吊销")
    else:
        messages.error(request, "令牌不存在或已吊销")
    return redirect("accounts:profile")


@login_required
def account_list(request):
    require(request.user, Action.MANAGE_ACCOUNTS, request)
    users = User.objects.select_related("region", "department").order_by("role", "username")
    if not sees_everything(request.user):
        users = users.filter(regions_q(request.user, "region__path") | Q(department__in=_departments(request.user)))
    role = request.GET.get("role", "")
    if role in Role.values:
        users = users.filter(role=role)
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/list.html", {"page": page, "roles": Role.choices, "role": role})


def _departments(user):
    from grassroots.accounts.permissions import visible_departments

    return visible_departments(user)


@login_required
def audit_log(request):
    require(request.user, Action.VIEW_AUDIT, request)
    events = AuditEvent.objects.select_related("user")
    kind = request.GET.get("kind", "")
    if kind in AuditEvent.Kind.values:
        events = events.filter(kind=kind)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/audit.html", {"page": page, "kinds": AuditEvent.Kind.choices, "kind": kind})
