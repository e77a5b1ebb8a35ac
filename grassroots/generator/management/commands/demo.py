import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from grassroots.generator import serving
from grassroots.generator.city import DEFAULT_PASSWORD, GenerationRefused, generate_city, summary
from grassroots.generator.console import format_table
from grassroots.generator.staff import demo_login_rows
from grassroots.lib.files import private_dir
from grassroots.territory.models import Region

DEMO_SEED = 1
ANY_ADDRESS = {"0.0.0.0", "[::]"}


class Command(BaseCommand):
    help = ("一条命令体验平台：建库、在空库中生成演示城市（东城区）、列出各角色的登录账户，"
            "并像正式部署一样用 gunicorn 提供网站（另启动一个后台任务进程 grassroots worker）。")

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="网站地址 主机:端口（默认 127.0.0.1:8000）")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn 工作进程数（默认 2）")
        parser.add_argument("--no-worker", action="store_true", help="不启动后台任务进程")
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help=f"演示账户的密码（仅在生成时使用，默认 {DEFAULT_PASSWORD}）")
        parser.add_argument("--no-server", action="store_true", help="只建库、生成并列出账户，不启动服务器")

    def handle(self, *args, addr, workers, no_worker, password, no_server, **options):
        try:
            host, port = serving.parse_addr(addr)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if workers < 1:
            raise CommandError("--workers 至少为 1")
        # SQLite needs its folder before the first connection; uploads and static files live there too.
        private_dir(settings.VAR_DIR)
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
        if settings.STATIC_MANIFEST:  # served as deployed: the hashed files collectstatic makes
            call_command("collectstatic", interactive=False, verbosity=0)
        env = dict(os.environ)
        if host not in ANY_ADDRESS and host.strip("[]") not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
            env["ALLOWED_HOSTS"] = ",".join([*settings.ALLOWED_HOSTS, host.strip("[]")])
        shown = "127.0.0.1" if host in ANY_ADDRESS else host
        self.stdout.write(f"\n打开 http://{shown}:{port}/ 登录（gunicorn，{workers} 个工作进程"
                          f"{'' if no_worker else '；后台任务进程推进办理时限'}）。按 Ctrl+C 停止。")
        if host in ANY_ADDRESS:
            self.stdout.write("从其他电脑访问时，请把本机的地址或域名加入 ALLOWED_HOSTS。")
        self.stdout.flush()
        code = serving.serve(f"{host}:{port}", workers=workers, with_worker=not no_worker, env=env,
                             say=self.stdout.write)
        if code:
            raise CommandError(f"演示服务异常退出（代码 {code}），原因见上面的信息（例如地址 {host}:{port} 已被占用）。")
