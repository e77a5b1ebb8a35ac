from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from grassroots.generator.city import DEFAULT_PASSWORD, GenerationRefused, generate_city, summary
from grassroots.generator.console import format_table
from grassroots.generator.staff import demo_login_rows
from grassroots.territory.models import Region

DEMO_SEED = 1


class Command(BaseCommand):
    help = "一条命令体验平台：建库、在空库中生成演示城市（东城区）、列出各角色的登录账户并启动开发服务器。"

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="开发服务器地址（默认 127.0.0.1:8000）")
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help=f"演示账户的密码（仅在生成时使用，默认 {DEFAULT_PASSWORD}）")
        parser.add_argument("--no-server", action="store_true", help="只建库、生成并列出账户，不启动服务器")

    def handle(self, *args, addr, password, no_server, **options):
        # SQLite needs its folder before the first connection; uploads and static files live there too.
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        if Region.objects.exists():
            self.stdout.write("数据库中已有辖区数据，直接使用（不重新生成）。")
        else:
            self.stdout.write("正在生成演示城市（东城区 4 个街道、36 个社区）…")
            try:
                ctx = generate_city("S", DEMO_SEED, password, say=lambda line: None)
            except GenerationRefused as exc:
                raise CommandError(str(exc)) from exc
            for line in summary(ctx):
                self.stdout.write(line)
        rows = demo_login_rows(password)
        if rows:
            self.stdout.write("\n演示账户（每个角色一个）：")
            for line in format_table(("角色", "用户名", "密码", "登录后看到"), rows):
                self.stdout.write("  " + line)
        if no_server:
            return
        self.stdout.write(f"\n打开 http://{addr}/ 登录。按 Ctrl+C 停止。\n")
        call_command("runserver", addr, use_reloader=False)
