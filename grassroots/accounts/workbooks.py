"""Accounts from an Excel sheet (.xlsx), all or nothing — the ledger import's pattern
(grassroots/ledger/workbooks.py): read with python-calamine, check every row and report each
problem by row and column in Chinese; a preview (dry run) checks without writing; otherwise,
when no row is wrong, every account is created in one transaction, or none at all.

A row without 初始密码 gets a generated temporary password; every first password must be changed
at the first sign-in. The temporary passwords are shown once on the result page and offered once
as a workbook (accounts.views: written owner-only, deleted when downloaded).
"""

import io
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from python_calamine import CalamineWorkbook

from grassroots.accounts import services
from grassroots.accounts.models import AuditEvent, User
from grassroots.accounts.permissions import audit, require
from grassroots.accounts.roles import Action, Role
from grassroots.lib import sheets

SHEET = "账户"
MAX_ROWS = 5000
# (header, AccountInput field, required)
COLUMNS: list[tuple[str, str, bool]] = [
    ("用户名", "username", True), ("姓名", "full_name", False), ("手机号", "phone", False), ("角色", "role", True),
    ("辖区代码", "region", False), ("部门", "department", False), ("初始密码", "password", False),
]
HEADER_OF = {key: header for header, key, _ in COLUMNS}


class ImportRefused(Exception):
    """The file as a whole cannot be read (the message is for the user)."""


@dataclass
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"第 {self.row} 行{('“' + self.column + '”列') if self.column else ''}：{self.reason}"


@dataclass
class NewAccount:
    row: int
    username: str
    full_name: str
    role_label: str
    password: str
    generated: bool


@dataclass
class ImportResult:
    dry_run: bool
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    accounts: list[NewAccount] = field(default_factory=list)
    written: bool = False

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def generated(self) -> list[NewAccount]:
        return [a for a in self.accounts if a.generated]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read(data: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own errors for a file that is not a workbook
        raise ImportRefused("文件不是有效的 Excel 工作簿（.xlsx），请用模板填写后上传") from exc
    name = SHEET if SHEET in wb.sheet_names else next((n for n in wb.sheet_names if n != "填写说明"), None)
    if name is None:
        raise ImportRefused(f"工作簿中没有“{SHEET}”工作表，请用模板填写")
    try:
        rows = iter(wb.get_sheet_by_name(name).to_python(skip_empty_area=False))
    except Exception as exc:
        raise ImportRefused(f"工作表“{name}”无法读取，请另存为 .xlsx 后重试") from exc
    header = [_cell(v).rstrip("*＊").strip() for v in next(rows, ())]
    index = {h: i for i, h in enumerate(header) if h}
    missing = [h for h, _k, required in COLUMNS if required and h not in index]
    if missing:
        raise ImportRefused(f"工作表“{name}”缺少必填列：{'、'.join(missing)}（第 1 行应为表头，请用模板填写）")
    out = []
    for n, values in enumerate(rows, start=2):
        if all(v is None or v == "" for v in values):
            continue
        if len(out) >= MAX_ROWS:
            raise ImportRefused(f"一次最多导入 {MAX_ROWS} 个账户，请分批导入")
        out.append((n, {key: _cell(values[index[h]]) if h in index and index[h] < len(values) else ""
                        for h, key, _r in COLUMNS}))
    return out


def _check_row(actor: User, n: int, got: dict[str, str], seen: dict[str, int], errors: list[RowError]):
    """The clean values of one row, or None; every problem of the row goes to ERRORS."""
    before = len(errors)

    def attempt(key: str, fn, *args):
        try:
            return fn(*args)
        except services.AccountError as exc:
            errors.append(RowError(n, HEADER_OF.get(exc.field or key, HEADER_OF[key]), exc.message))
            return None

    username = attempt("username", services.clean_username, got["username"])
    if username is not None:
        first = seen.get(username.lower())
        if first is not None:
            errors.append(RowError(n, HEADER_OF["username"], f"用户名“{username}”与第 {first} 行重复"))
        seen.setdefault(username.lower(), n)
    full_name = attempt("full_name", services.clean_full_name, got["full_name"])
    phone = attempt("phone", services.clean_phone, got["phone"])
    role = attempt("role", services.parse_role, got["role"])
    region = attempt("region", services.resolve_region, actor, got["region"])
    department = attempt("department", services.resolve_department, actor, got["department"])
    if len(errors) == before:
        attempt("role", services.check_grant, actor, role, region, department)
    if got["password"]:
        probe = User(username=username or got["username"], full_name=full_name or "")
        attempt("password", services.check_password, got["password"], probe)
    if len(errors) > before:
        return None
    return {"username": username, "full_name": full_name, "phone": phone, "role": role, "region": region,
            "department": department}


def import_accounts(actor: User, data: bytes, *, dry_run: bool = False, request=None) -> ImportResult:
    """Check and (unless DRY_RUN, and only if every row is right) create the accounts of DATA."""
    require(actor, Action.MANAGE_ACCOUNTS, request)
    rows = _read(data)
    result = ImportResult(dry_run=dry_run, rows=len(rows))
    if not rows:
        raise ImportRefused("工作表中没有账户行（从第 2 行起每行一个账户）")
    seen: dict[str, int] = {}
    clean = []
    for n, got in rows:
        values = _check_row(actor, n, got, seen, result.errors)
        if values is not None:
            clean.append((n, got["password"], values))
    if result.errors or dry_run:
        if dry_run and not result.errors:
            result.accounts = [NewAccount(n, v["username"], v["full_name"], Role(v["role"]).label, "", not pw)
                               for n, pw, v in clean]
        return result
    with transaction.atomic():
        users = []
        for n, given, values in clean:
            user = User(**values, must_change_password=True)
            password = given or services.temporary_password(user)
            user.password = make_password(password)
            users.append(user)
            result.accounts.append(NewAccount(n, user.username, user.full_name, Role(user.role).label, password,
                                              not given))
        for user in users:
            user.save()
            services._audit_account(AuditEvent.Kind.ACCOUNT_CREATED, actor, user, request,
                                    f"{services._scope_words(user)}（批量导入）")
        audit(AuditEvent.Kind.ACCOUNTS_IMPORTED, user=actor, request=request, detail=f"批量导入 {len(users)} 个账户")
    result.written = True
    return result


# --- workbooks out --------------------------------------------------------------------------------

HEADER_FONT = Font(bold=True)
REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")


def template_workbook() -> bytes:
    wb = Workbook()
    guide = wb.active
    guide.title = "填写说明"
    for line in [
        "账户批量导入模板：在“账户”表中每行填写一个账户，带 * 的列必填。",
        f"角色填写中文名或代码：{'、'.join(f'{label}（{value}）' for value, label in Role.choices)}。",
        "辖区代码：行政区划或网格代码（如 110101001001），须在您的管理范围内；职能部门承办人可只填部门。",
        "部门：写成“区县代码/部门代码”，如 110101/chengguan。",
        "初始密码：留空则生成临时密码（导入后显示一次，可下载）；填写的密码须至少 8 位、不能全是数字、"
        "不能是常见密码、不能与用户名或姓名相近。无论哪种，首次登录时都必须修改密码。",
        "全部行都正确才会导入；有错误时什么都不会创建，页面按行、列列出错误。",
    ]:
        guide.append([line])
    ws = wb.create_sheet(SHEET)
    ws.append([h + ("*" if required else "") for h, _k, required in COLUMNS])
    for i, (_h, _key, required) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = HEADER_FONT
        if required:
            cell.fill = REQUIRED_FILL
        ws.column_dimensions[cell.column_letter].width = 18
        for r in range(2, 502):
            ws.cell(row=r, column=i).number_format = "@"
    wb.active = 1
    return _save(wb)


def passwords_workbook(result: ImportResult) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "临时密码"
    ws.append(["用户名", "姓名", "角色", "临时密码"])
    for a in result.accounts:
        if a.generated:  # names come from the uploaded sheet: never a formula (lib.sheets)
            ws.append(sheets.row([a.username, a.full_name, a.role_label, a.password]))
    ws.append([])
    ws.append(["首次登录时必须修改密码。请把密码当面或单独交给本人，用后删除此文件。"])
    return _save(wb)


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
