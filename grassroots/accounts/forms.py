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
