import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from grassroots.accounts import services, workbooks
from grassroots.accounts.forms import (
    AccountForm,
    AccountImportForm,
    AccountSearchForm,
    LoginForm,
    PasswordChangeForm,
    PhoneForm,
    TokenForm,
)
from grassroots.accounts.models import AuditEvent, PhoneCode
from grassroots.accounts.permissions import require, sees_everything
from grassroots.accounts.roles import Action, Role
from grassroots.lib.files import keep_for, kept_for, private_dir

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


# --- account management (administrators, within their scope) -------------------------------------


def _grantable_roles(actor):
    return [(v, label) for v, label in Role.choices if v != Role.RESIDENT or sees_everything(actor)]


@login_required
def account_list(request):
    require(request.user, Action.MANAGE_ACCOUNTS, request)
    search = AccountSearchForm(request.GET or None)
    d = search.cleaned_data if search.is_valid() else {}
    users = services.account_list(request.user, q=d.get("q", ""), role=d.get("role", ""), status=d.get("status", ""),
                                  locked=bool(d.get("locked")))
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    locked = services.lockouts(u.username for u in page)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "accounts/list.html", {"page": page, "search": search, "locked": locked,
                                                  "query": query.urlencode()})


def _account_form(request, data=None, initial=None, editing=False):
    return AccountForm(data, initial=initial, roles=_grantable_roles(request.user),
                       departments=services.manageable_departments(request.user).order_by("district__code", "code"),
                       editing=editing)


def _form_error(form, exc: services.AccountError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
def account_new(request):
    require(request.user, Action.MANAGE_ACCOUNTS, request)
    form = _account_form(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, password = services.create_account(request.user, form.account_input(), request=request)
        except services.AccountError as exc:
            _form_error(form, exc)
        else:
            return render(request, "accounts/password_shown.html", {
                "account": user, "password": password, "generated": not form.cleaned_data.get("password"),
                "title": "账户已创建"})
    return render(request, "accounts/edit.html", {"form": form, "account": None},
                  status=400 if request.method == "POST" else 200)


@login_required
def account_edit(request, user_id: int):
    account = services.get_account_or_404(request.user, user_id, request)
    initial = {"full_name": account.full_name, "role": account.role, "region": account.region.code if account.region_id else "",
               "department": services.department_ref(account.department)}
    form = _account_form(request, request.POST or None, initial=initial, editing=True)
    if account.phone:
        form.fields["phone"].widget.attrs["placeholder"] = str(account.phone)  # the mask
    if request.method == "POST" and form.is_valid():
        current = services.privacy.plain_of(account.phone)  # kept when the field is left empty; never shown
        try:
            services.update_account(request.user, account, form.account_input(current), request=request)
        except services.AccountError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"账户“{account.username}”已保存")
            return redirect("accounts:edit", account.pk)
    events = AuditEvent.objects.filter(detail__startswith=f"{account.username}：",
                                       kind__in=ACCOUNT_KINDS)[:20]
    return render(request, "accounts/edit.html", {
        "form": form, "account": account, "locked": services.is_locked(account), "events": events,
    }, status=400 if request.method == "POST" else 200)


ACCOUNT_KINDS = [AuditEvent.Kind.ACCOUNT_CREATED, AuditEvent.Kind.ACCOUNT_CHANGED, AuditEvent.Kind.ACCOUNT_DISABLED,
                 AuditEvent.Kind.ACCOUNT_ENABLED, AuditEvent.Kind.ACCOUNT_UNLOCKED, AuditEvent.Kind.PASSWORD_RESET]


def _account_action(request, user_id: int, action, done: str):
    account = services.get_account_or_404(request.user, user_id, request)
    try:
        action(request.user, account, request=request)
    except services.AccountError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.format(account.username))
    return redirect("accounts:edit", account.pk)


@login_required
@require_POST
def account_disable(request, user_id: int):
    return _account_action(request, user_id, services.disable_account, "账户“{}”已停用：不能再登录，接口令牌失效")


@login_required
@require_POST
def account_enable(request, user_id: int):
    return _account_action(request, user_id, services.enable_account, "账户“{}”已重新启用")


@login_required
@require_POST
def account_unlock(request, user_id: int):
    return _account_action(request, user_id, services.unlock_account, "账户“{}”的登录锁定已解除")


@login_required
@require_POST
def account_reset_password(request, user_id: int):
    account = services.get_account_or_404(request.user, user_id, request)
    try:
        password = services.reset_password(request.user, account, request=request)
    except services.AccountError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:edit", account.pk)
    return render(request, "accounts/password_shown.html", {
        "account": account, "password": password, "generated": True, "title": "密码已重置"})


# --- bulk creation from a sheet ------------------------------------------------------------------------


def _passwords_dir() -> Path:
    return private_dir(Path(settings.MEDIA_ROOT) / "account-passwords")


def _purge_old(folder: Path, seconds: int = 3600) -> None:
    now = time.time()
    for old in folder.glob("*.xlsx"):
        if now - old.stat().st_mtime > seconds:
            old.unlink(missing_ok=True)


@login_required
def account_import(request):
    require(request.user, Action.MANAGE_ACCOUNTS, request)
    form = AccountImportForm()
    result = None
    refusal = passwords_url = ""
    if request.method == "POST":
        form = AccountImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = workbooks.import_accounts(request.user, form.cleaned_data["file"].read(),
                                                   dry_run=form.cleaned_data["dry_run"], request=request)
            except workbooks.ImportRefused as exc:
                refusal = str(exc)
            else:
                if result.written and result.generated:
                    folder = _passwords_dir()
                    _purge_old(folder)
                    token = keep_for(request.user, folder, workbooks.passwords_workbook(result))
                    passwords_url = reverse("accounts:import_passwords", args=[token])
    status = 400 if (form.errors or refusal or (result and result.errors)) else 200
    return render(request, "accounts/import.html", {
        "form": form, "result": result, "refusal": refusal, "passwords_url": passwords_url,
        "errors_shown": result.errors[:300] if result else []}, status=status)


@login_required
def account_import_passwords(request, token: str):
    """The temporary passwords of one of the caller's own imports, once: the file is deleted as it is sent."""
    require(request.user, Action.MANAGE_ACCOUNTS, request)
    path = kept_for(request.user, _passwords_dir(), token)
    if path is None:
        raise Http404("临时密码表不存在或已下载过")
    data = path.read_bytes()
    path.unlink(missing_ok=True)
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''%E4%B8%B4%E6%97%B6%E5%AF%86%E7%A0%81.xlsx"
    response["Cache-Control"] = "no-store"
    return response


@login_required
def account_template(request):
    require(request.user, Action.MANAGE_ACCOUNTS, request)
    response = HttpResponse(workbooks.template_workbook(), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="accounts-template.xlsx"'
    return response


# --- one's own password ----------------------------------------------------------------------------------


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("home")


@login_required
def password_change(request):
    user = request.user
    form = PasswordChangeForm(request.POST or None)
    if not user.has_usable_password():
        form.fields["old_password"].widget = form.fields["old_password"].hidden_widget()
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.change_own_password(user, d["old_password"], d["new_password"], request=request)
        except services.AccountError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, "密码已修改")
            return redirect(_safe_next(request))
    return render(request, "accounts/password_change.html", {
        "form": form, "forced": user.must_change_password, "next": _safe_next(request)},
        status=400 if request.method == "POST" else 200)


# --- residents: register and sign in with an SMS code ------------------------------------------------------


def _phone_page(request, purpose: str):
    if request.user.is_authenticated:
        return redirect("home")
    form = PhoneForm(request.POST or None)
    sent = False
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if request.POST.get("send"):
                services.send_code(d["phone"], purpose, request=request)
                sent = True
            elif purpose == PhoneCode.Purpose.REGISTER:
                user = services.register_resident(d["phone"], d["code"], d["full_name"], request=request)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, "注册成功，欢迎使用")
                return redirect("me")
            else:
                user = services.resident_by_code(d["phone"], d["code"], request=request)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("home")
        except services.AccountError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            sent = exc.field == "code"
            status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "accounts/phone.html", {
        "form": form, "sent": sent, "register": purpose == PhoneCode.Purpose.REGISTER,
        "minutes": settings.SMS_CODE_MINUTES}, status=status)


def register(request):
    return _phone_page(request, PhoneCode.Purpose.REGISTER)


def sms_login(request):
    return _phone_page(request, PhoneCode.Purpose.LOGIN)


@login_required
def audit_log(request):
    require(request.user, Action.VIEW_AUDIT, request)
    events = services.audit_events(request.user).select_related("user")
    kind = request.GET.get("kind", "")
    if kind in AuditEvent.Kind.values:
        events = events.filter(kind=kind)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/audit.html", {"page": page, "kinds": AuditEvent.Kind.choices, "kind": kind})
