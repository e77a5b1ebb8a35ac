from django.core.management.base import BaseCommand, CommandError

from grassroots.lib.worker import Worker


class Command(BaseCommand):
    help = "后台任务进程：按时运行已登记的周期任务（清理过期会话、办理时限检查等）。可同时运行多个。"

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="每个任务运行一次后退出")
        parser.add_argument("--interval", type=float, default=10.0, help="检查到期任务的间隔秒数（默认 10）")

    def handle(self, *args, once, interval, **options):
        if interval <= 0:
            raise CommandError("--interval 必须大于 0")
        worker = Worker(interval=interval, say=self.stdout.write)
        if once:
            failed = [r for r in worker.run_once() if r.error]
            if failed:
                raise CommandError("以下任务失败：" + "、".join(r.job.label for r in failed))
            return
        restore = worker.handle_signals()
        try:
            worker.run_forever()
        finally:
            restore()
