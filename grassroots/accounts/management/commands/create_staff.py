"""grassroots create_staff USERNAME --role ROLE [--region CODE] [--department 区县代码/部门代码]

Create an account from the console — the first administrator of a deployment, above all:

    grassroots create_staff admin --role admin --full-name 系统管理员

The password is asked twice at the prompt (or read from the first line of standard input when
that is not a terminal, or given with --password, which other users of the machine may see in
the process list). It must pass the password validators; the refusal is in Chinese.
"""

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from grassroots.accounts import services
from grassroots.accounts.roles import Role
from grassroots.territory.models import Department, Region


class Command(BaseCommand):
    help = "创建账户（如部署后的第一个系统管理员）；密码须通过密码规则检查"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--full-name", default="")
        parser.add_argument("--phone", default="")
        parser.add_argument("--region", default="", help="辖区代码（行政区划或网格代码）")
        parser.add_argument("--department", default="", help="区县代码/部门代码，如 110101/chengguan")
        parser.add_argument("--password", default=None, help="不推荐：命令行参数可能被同机用户看到")

    def handle(self, *args, **o):
        region = department = None
        if o["region"]:
            region = Region.objects.filter(code=o["region"]).first()
            if region is None:
                raise CommandError(f"辖区代码“{o['region']}”不存在")
        if o["department"]:
            district, _, code = o["department"].rpartition("/")
            department = Department.objects.filter(district__code=district, code=code).first()
            if department is None:
                raise CommandError(f"部门“{o['department']}”不存在，应写成“区县代码/部门代码”")
        password = o["password"]
        if password is None:
            password = self._ask()
        try:
            phone = services.clean_phone(o["phone"])
            username = services.clean_username(o["username"])
            user = services.create_staff(username, password, o["role"], full_name=o["full_name"], region=region,
                                         department=department, phone=phone)
        except services.AccountError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"已创建账户 {user.username}（{user.get_role_display()}）")

    def _ask(self) -> str:
        if not sys.stdin.isatty():
            return sys.stdin.readline().rstrip("\n")
        first = getpass.getpass("密码：")
        if getpass.getpass("再次输入密码：") != first:
            raise CommandError("两次输入的密码不一致")
        return first
