"""Forms of the ledger pages: each field's refusal in Chinese."""

from django import forms
from django.utils import timezone

from grassroots.ledger.models import CareType, Relation, ResidenceStatus
from grassroots.ledger.workbooks import ALL_OR_NOTHING, VALID_ROWS

MAX_UPLOAD = 30 * 1024 * 1024


class SearchForm(forms.Form):
    q = forms.CharField(label="搜索", max_length=60, required=False)


class FullViewForm(forms.Form):
    reason = forms.CharField(
        label="查看事由", min_length=4, max_length=300,
        error_messages={"required": "请说明查看完整信息的事由", "min_length": "请说明查看完整信息的事由（至少 4 个字）",
                        "max_length": "查看事由不能超过 300 字"},
    )


class VisitForm(forms.Form):
    findings = forms.CharField(label="走访情况", widget=forms.Textarea(attrs={"rows": 4}), max_length=2000,
                               error_messages={"required": "请填写走访情况", "max_length": "走访情况不能超过 2000 字"})
    place = forms.CharField(label="地点", max_length=200, required=False)
    visited_at = forms.DateTimeField(label="走访时间", required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                                     error_messages={"invalid": "走访时间格式不正确"})
    open_case = forms.BooleanField(label="同时上报事件（走访发现的问题）", required=False)
    case_description = forms.CharField(label="事件描述（不填则用走访情况）", required=False, max_length=2000,
                                       widget=forms.Textarea(attrs={"rows": 2}))
    open_dispute = forms.BooleanField(label="登记为矛盾纠纷", required=False)
    dispute_party = forms.CharField(label="纠纷另一方（登记矛盾纠纷时填写）", max_length=100, required=False)

    def clean_visited_at(self):
        value = self.cleaned_data.get("visited_at")
        if value and value > timezone.now():
            raise forms.ValidationError("走访时间不能晚于现在")
        return value


class CareForm(forms.Form):
    type = forms.ChoiceField(label="类别", choices=CareType.choices,
                             error_messages={"required": "请选择类别", "invalid_choice": "类别不正确"})
    reason = forms.CharField(label="认定理由", max_length=300,
                             error_messages={"required": "请填写认定理由", "max_length": "认定理由不能超过 300 字"})
    start_date = forms.DateField(label="开始日期", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                 error_messages={"invalid": "日期格式应为 2024-05-01"})
    end_date = forms.DateField(label="结束日期", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                               error_messages={"invalid": "日期格式应为 2024-05-01"})


class ImportForm(forms.Form):
    file = forms.FileField(label="Excel 工作簿（.xlsx）", error_messages={"required": "请选择要导入的 .xlsx 文件"})
    mode = forms.ChoiceField(
        label="有错误时", initial=ALL_OR_NOTHING, widget=forms.RadioSelect,
        choices=[(ALL_OR_NOTHING, "全部正确才导入（有一行错误则都不导入）"), (VALID_ROWS, "只导入正确的行，错误的行生成错误工作簿")],
    )
    dry_run = forms.BooleanField(label="试导入（只检查，不保存）", required=False)

    def clean_file(self):
        f = self.cleaned_data["file"]
        if not f.name.lower().endswith(".xlsx"):
            raise forms.ValidationError("只能导入 .xlsx 工作簿（可先下载模板）")
        if f.size > MAX_UPLOAD:
            raise forms.ValidationError("文件超过 30 MB，请分批导入")
        return f


class FilterForm(forms.Form):
    """The person list and its export: territory, status, care group, search text."""

    region = forms.CharField(label="辖区代码", max_length=20, required=False)
    status = forms.ChoiceField(label="居住类型", required=False, choices=[("", "全部"), *ResidenceStatus.choices])
    care = forms.ChoiceField(label="关爱/重点人群", required=False, choices=[("", "全部"), *CareType.choices])
    q = forms.CharField(label="姓名", max_length=60, required=False)


class MoveForm(forms.Form):
    household = forms.CharField(label="迁入户号", max_length=40, error_messages={"required": "请填写迁入的户号"})
    relation = forms.ChoiceField(label="与户主关系", choices=Relation.choices, initial=Relation.OTHER)
    note = forms.CharField(label="说明", max_length=300, required=False)


class MoveOutForm(forms.Form):
    note = forms.CharField(label="迁出说明（去向）", max_length=300,
                           error_messages={"required": "请填写迁出说明", "max_length": "说明不能超过 300 字"})


class OwnerForm(forms.Form):
    owner_name = forms.CharField(label="新产权人", max_length=50, error_messages={"required": "请填写新产权人"})
    note = forms.CharField(label="说明", max_length=300, required=False)
