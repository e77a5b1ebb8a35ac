from django import forms
from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "用户名或密码不正确。连续输错多次后账户将被暂时锁定。",
        "inactive": "该账户已停用。",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "用户名"
        self.fields["password"].label = "密码"
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})


class TokenForm(forms.Form):
    name = forms.CharField(label="用途", max_length=60, error_messages={"required": "请填写令牌用途", "max_length": "用途不能超过 60 个字"})
    days = forms.IntegerField(
        label="有效天数", required=False, min_value=1, max_value=3650,
        error_messages={"min_value": "有效天数至少为 1", "max_value": "有效天数不能超过 3650", "invalid": "有效天数应为整数"},
        help_text="留空表示长期有效，可随时吊销",
    )


class AccountSearchForm(forms.Form):
    q = forms.CharField(label="搜索", required=False, max_length=50,
                        widget=forms.TextInput(attrs={"placeholder": "用户名、姓名或完整手机号"}))
    role = forms.ChoiceField(label="角色", required=False)
    status = forms.ChoiceField(label="状态", required=False, choices=[
        ("", "全部"), ("active", "启用"), ("disabled", "停用"), ("must_change", "待修改密码")])
    locked = forms.BooleanField(label="仅显示登录锁定的", required=False)

    def __init__(self, *args, **kwargs):
        from grassroots.accounts.roles import Role

        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", "全部"), *Role.choices]


class AccountForm(forms.Form):
    """What an administrator types for one account; the rules are accounts.services'."""

    username = forms.CharField(label="用户名", max_length=150, required=False)
    full_name = forms.CharField(label="姓名", max_length=50, required=False)
    phone = forms.CharField(label="手机号", max_length=20, required=False, help_text="11 位手机号码，保存时加密")
    role = forms.ChoiceField(label="角色")
    region = forms.CharField(label="辖区代码", max_length=20, required=False,
                             help_text="行政区划或网格代码，如 110101001001；须在您的管理范围内")
    department = forms.ChoiceField(label="所属部门", required=False)
    password = forms.CharField(label="初始密码", required=False, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text="留空则生成临时密码；对方首次登录时必须修改")

    def __init__(self, *args, roles=(), departments=(), editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", "请选择"), *roles]
        self.fields["department"].choices = [("", "—")] + [
            (f"{d.district.code}/{d.code}", f"{d.district.name} {d.name}") for d in departments]
        if editing:
            del self.fields["username"]
            del self.fields["password"]
            # The whole number is never shown back (lib.privacy): its mask as a hint, empty keeps it.
            self.fields["phone"].help_text = "留空则不修改；填写新号码即替换"
            self.fields["clear_phone"] = forms.BooleanField(label="删除手机号", required=False)

    def account_input(self, current_phone: str = ""):
        from grassroots.accounts.services import AccountInput

        d = self.cleaned_data
        phone = "" if d.get("clear_phone") else (d.get("phone", "") or current_phone)
        return AccountInput(username=d.get("username", ""), full_name=d.get("full_name", ""), phone=phone,
                            role=d.get("role", ""), region=d.get("region", ""), department=d.get("department", ""),
                            password=d.get("password", ""))


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label="原密码", strip=False, required=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password = forms.CharField(label="新密码", strip=False, error_messages={"required": "请填写新密码"},
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                   help_text="至少 8 位，不能全是数字，不能是常见密码，不能与用户名或姓名相近")
    new_password2 = forms.CharField(label="再次输入新密码", strip=False, error_messages={"required": "请再次输入新密码"},
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        d = super().clean()
        if d.get("new_password") and d.get("new_password2") and d["new_password"] != d["new_password2"]:
            self.add_error("new_password2", "两次输入的新密码不一致")
        return d


class AccountImportForm(forms.Form):
    file = forms.FileField(label="账户表（.xlsx）", error_messages={"required": "请选择要导入的 Excel 文件"})
    dry_run = forms.BooleanField(label="只检查，不导入（预览）", required=False)


class PhoneForm(forms.Form):
    phone = forms.CharField(label="手机号", max_length=20, error_messages={"required": "请填写手机号"},
                            widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}))
    code = forms.CharField(label="短信验证码", max_length=6, required=False,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))
    full_name = forms.CharField(label="姓名（选填）", max_length=50, required=False)
