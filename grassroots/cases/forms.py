"""Forms of the case pages. They only parse what the browser sends (numbers, dates, choices);
every rule about a case (what is required, which phone is valid, which file is allowed)
lives in cases.services, whose Chinese message is put back on the field it names."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from grassroots.cases.models import Channel, Priority, State, Tier

PARSE = {"invalid": "格式不正确", "invalid_choice": "请从列表中选择", "max_length": "内容过长"}


def _errors(**extra) -> dict:
    return {**PARSE, **extra}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several photos in one input; their type and size are checked by services.intake."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,application/pdf"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [f for f in data if f]
        return [data] if data else []


class _Where(forms.Form):
    lon = forms.FloatField(required=False, widget=forms.HiddenInput, error_messages=_errors(invalid="位置坐标不正确"))
    lat = forms.FloatField(required=False, widget=forms.HiddenInput, error_messages=_errors(invalid="位置坐标不正确"))
    address = forms.CharField(required=False, strip=True)


class ReportForm(_Where):
    """A resident's or a grid worker's report (the rules are checked by services.intake)."""

    description = forms.CharField(required=False, strip=True, widget=forms.Textarea(attrs={"rows": 4}))
    title = forms.CharField(required=False, strip=True)
    reporter_phone = forms.CharField(required=False, strip=True)
    anonymous = forms.BooleanField(required=False)
    matter_code = forms.CharField(required=False)
    photos = MultipleFileField()
    on_spot = forms.BooleanField(required=False)
    on_spot_result = forms.CharField(required=False, strip=True)


class EntryForm(_Where):
    """A dispatcher's entry of a call, letter, 110 transfer or visit."""

    channel = forms.ChoiceField(choices=(), error_messages=_errors(required="请选择来源渠道"))
    reporter_name = forms.CharField(required=False, strip=True)
    reporter_phone = forms.CharField(required=False, strip=True)
    anonymous = forms.BooleanField(required=False)
    description = forms.CharField(required=False, strip=True, widget=forms.Textarea(attrs={"rows": 4}))
    title = forms.CharField(required=False, strip=True)
    region_code = forms.CharField(required=False, strip=True)
    matter_code = forms.CharField(required=False)
    lead = forms.CharField(required=False)
    assists = forms.MultipleChoiceField(required=False, choices=(), error_messages=_errors())
    note = forms.CharField(required=False, strip=True)
    photos = MultipleFileField()

    def __init__(self, *args, channels=(), assist_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c, Channel(c).label) for c in channels]
        self.fields["assists"].choices = list(assist_choices)


# --- worklist filters -----------------------------------------------------------------------


def day_start(d) -> datetime:
    return timezone.make_aware(datetime.combine(d, time.min))


class FilterForm(forms.Form):
    matter = forms.CharField(required=False, strip=True)
    region = forms.CharField(required=False, strip=True)
    state = forms.ChoiceField(required=False, choices=[("", "全部状态"), *State.choices], error_messages=_errors())
    channel = forms.ChoiceField(required=False, choices=[("", "全部渠道"), *Channel.choices], error_messages=_errors())
    since = forms.DateField(required=False, error_messages=_errors(invalid="日期格式应为 年-月-日"))
    until = forms.DateField(required=False, error_messages=_errors(invalid="日期格式应为 年-月-日"))
    q = forms.CharField(required=False, strip=True, max_length=100, error_messages=_errors())

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "结束日期不能早于开始日期")
        return data

    def filters(self):
        from grassroots.cases.queries import Filters

        d = self.cleaned_data if self.is_valid() else {}
        return Filters(
            matter=d.get("matter", ""), region=d.get("region", ""), state=d.get("state", ""),
            channel=d.get("channel", ""),
            since=day_start(d["since"]) if d.get("since") else None,
            until=day_start(d["until"] + timedelta(days=1)) if d.get("until") else None,
            q=d.get("q", ""),
        )


class RatesForm(forms.Form):
    """A month (default: this month) or a custom range of days, and a territory in scope."""

    month = forms.CharField(required=False)
    since = forms.DateField(required=False, error_messages=_errors(invalid="日期格式应为 年-月-日"))
    until = forms.DateField(required=False, error_messages=_errors(invalid="日期格式应为 年-月-日"))
    region = forms.CharField(required=False, strip=True)

    def clean_month(self):
        value = self.cleaned_data.get("month") or ""
        if not value:
            return None
        try:
            return datetime.strptime(value, "%Y-%m").date()
        except ValueError:
            raise forms.ValidationError("月份格式应为 年-月，如 2026-03") from None

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if (since is None) != (until is None) and not self.errors:
            self.add_error("until" if since else "since", "自定义时段请同时填写开始和结束日期")
        elif since and until and since > until:
            self.add_error("until", "结束日期不能早于开始日期")
        return data

    def period(self) -> tuple[datetime, datetime, str]:
        """[start, end) and a label; this month when nothing (or nothing valid) was chosen."""
        d = self.cleaned_data if self.is_valid() else {}
        if d.get("since") and d.get("until"):
            return day_start(d["since"]), day_start(d["until"] + timedelta(days=1)), f"{d['since']} 至 {d['until']}"
        first = d.get("month") or timezone.localdate().replace(day=1)
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return day_start(first), day_start(following), f"{first:%Y年%m月}"


# --- the actions on a case page --------------------------------------------------------------


class ActionForm(forms.Form):
    version = forms.IntegerField(error_messages={"required": "页面已过期，请刷新后重试", "invalid": "页面已过期，请刷新后重试"})


def _text(label: str, required: str | None = None, max_length: int = 2000) -> forms.CharField:
    return forms.CharField(
        label=label, required=bool(required), strip=True, max_length=max_length,
        error_messages={"required": required or "", "max_length": f"{label}不能超过 {max_length} 字"},
    )


YES_NO = [("yes", "是"), ("no", "否")]


class AcceptForm(ActionForm):
    matter_code = forms.CharField(required=False)
    note = _text("备注", max_length=300)


class DispatchForm(ActionForm):
    lead = forms.CharField(error_messages={"required": "请指定一个主办单位（属地或部门）"})
    assists = forms.MultipleChoiceField(required=False, choices=(), error_messages=_errors())
    matter_code = forms.CharField(required=False)
    note = _text("派遣意见", max_length=300)

    def __init__(self, *args, assist_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assists"].choices = list(assist_choices)


class StartForm(ActionForm):
    pass


class NoteForm(ActionForm):
    note = _text("联系情况")


class ResultForm(ActionForm):
    result = _text("办理结果")


class ReasonForm(ActionForm):
    reason = _text("理由", max_length=300)


class ArbitrateForm(ActionForm):
    ruling = forms.ChoiceField(choices=[("uphold", "支持退单，改派"), ("refuse", "不支持，退回原单位")],
                               error_messages=_errors(required="请选择裁定结果"))
    note = _text("裁定意见", max_length=300)
    lead = forms.CharField(required=False)
    assists = forms.MultipleChoiceField(required=False, choices=(), error_messages=_errors())

    def __init__(self, *args, assist_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assists"].choices = list(assist_choices)


class ExtensionForm(ActionForm):
    workdays = forms.IntegerField(error_messages={"required": "请填写延期天数", "invalid": "延期天数应为整数"})
    reason = _text("延期理由", max_length=300)


class DecideExtensionForm(ActionForm):
    decision = forms.ChoiceField(choices=[("approve", "批准"), ("refuse", "不批准")],
                                 error_messages=_errors(required="请选择是否批准"))
    note = _text("审批意见", max_length=300)


class EvaluateForm(ActionForm):
    solved = forms.ChoiceField(choices=YES_NO, error_messages=_errors(required="请选择问题是否解决"))
    satisfied = forms.ChoiceField(choices=YES_NO, error_messages=_errors(required="请选择是否满意"))
    comment = forms.CharField(required=False, strip=True)


class MergeForm(ActionForm):
    into = forms.CharField(strip=True, error_messages={"required": "请填写要合并到的事件编号"})


class SuperviseForm(ActionForm):
    version = forms.IntegerField(required=False)
    reason = _text("督办事由", max_length=200)


ACTION_FORMS: dict[str, type[ActionForm]] = {
    "accept": AcceptForm,
    "dispatch": DispatchForm,
    "start": StartForm,
    "respond": NoteForm,
    "resolve": ResultForm,
    "resolve_on_spot": ResultForm,
    "return": ReasonForm,
    "arbitrate": ArbitrateForm,
    "request_extension": ExtensionForm,
    "decide_extension": DecideExtensionForm,
    "evaluate": EvaluateForm,
    "reopen": ReasonForm,
    "merge": MergeForm,
    "reject": ReasonForm,
    "supervise": SuperviseForm,
}


# --- the matter catalog --------------------------------------------------------------------


class MatterForm(forms.Form):
    """Parses the admin's edit; catalog.matter_problems decides what is allowed."""

    tier = forms.ChoiceField(label="处置层级", choices=Tier.choices, error_messages=_errors(required="请选择处置层级"))
    department_code = forms.CharField(label="主责部门代码", max_length=30, strip=True,
                                      error_messages={"required": "请填写主责部门代码", "max_length": "部门代码不能超过 30 个字符"})
    priority = forms.ChoiceField(label="紧急程度", choices=Priority.choices, error_messages=_errors(required="请选择紧急程度"))
    response_hours = forms.IntegerField(label="响应时限（小时）",
                                        error_messages={"required": "请填写响应时限", "invalid": "响应时限应为整数"})
    resolve_workdays = forms.IntegerField(label="办结时限（工作日）",
                                          error_messages={"required": "请填写办结时限", "invalid": "办结时限应为整数"})
