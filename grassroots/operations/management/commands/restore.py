from django.core.management.base import BaseCommand, CommandError

from grassroots.operations import restore
from grassroots.operations.manifest import Refused, key_warning


class Command(BaseCommand):
    # A backup or a restore must work even where a page is misconfigured; the checks would
    # also import every view (seconds of numpy and scikit-learn) for nothing.
    requires_system_checks = []
    help = ("从 grassroots backup 的快照恢复数据库和上传文件：先核对清单（校验和、文件、格式版本），"
            "只恢复到空的数据库（--force 覆盖），恢复后核对每张表的行数。请先停止网站和后台任务进程。")

    def add_arguments(self, parser):
        parser.add_argument("snapshot", help="快照：.tar / .tar.gz 文件，或它解开后的目录")
        parser.add_argument("--force", action="store_true", help="目标数据库或上传文件目录不是空的也覆盖")
        parser.add_argument("--check", action="store_true", help="只核对快照是否完整，不恢复")

    def handle(self, *args, snapshot, force, check, **options):
        try:
            if check:
                manifest = restore.check(snapshot)
            else:
                done = restore.restore(snapshot, force=force, warn=self.stderr.write)
                manifest = done.manifest
        except (Refused, restore.CountsDiffer) as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest["tables"].values())
        media = sum(1 for rel in manifest["files"] if rel.startswith("media/"))
        head = f"快照完整（创建于 {manifest['created_at']}，平台 {manifest['platform_version']}，" \
               f"{manifest['database']['vendor']}：{len(manifest['tables'])} 张表、{rows:,} 行，上传文件 {media} 个）。"
        if check:
            self.stdout.write(head)
            if warning := key_warning(manifest):
                self.stderr.write(warning)
            return
        self.stdout.write(f"已恢复：{len(manifest['tables'])} 张表、{rows:,} 行（每张表的行数与清单一致），"
                          f"上传文件 {done.media_files} 个。")
        if done.pending_migrations:
            self.stdout.write(f"快照的数据库结构比当前平台旧（{len(done.pending_migrations)} 个迁移未应用）："
                              f"请运行 grassroots migrate。")
        self.stdout.write("请重新启动网站和后台任务进程。")
