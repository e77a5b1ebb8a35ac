from django.core.management.base import BaseCommand, CommandError

from grassroots.operations import backup
from grassroots.operations.manifest import Refused


class Command(BaseCommand):
    # A backup or a restore must work even where a page is misconfigured; the checks would
    # also import every view (seconds of numpy and scikit-learn) for nothing.
    requires_system_checks = []
    help = ("备份：数据库的一致快照（SQLite 在线备份 / PostgreSQL pg_dump）、上传文件和清单（行数、校验和），"
            "写成一个仅本账户可读的 .tar 文件。不含任何密钥：请另行保管 SECRET_KEY 和个人信息密钥。")

    def add_arguments(self, parser):
        parser.add_argument("--output", metavar="DIR_OR_FILE",
                            help="写到哪里：一个目录（在其中新建带时间的 .tar），或以 .tar / .tar.gz 结尾的文件名"
                                 "（默认 BACKUP_DIR，即 var/backups）")

    def handle(self, *args, output, **options):
        try:
            done = backup.take(output)
        except Refused as exc:
            raise CommandError(str(exc)) from exc
        for rel in done.skipped:
            self.stderr.write(f"未备份 media/{rel}：它是密钥文件、含有密钥，或是数据库文件本身。")
        size = done.path.stat().st_size
        self.stdout.write(f"已备份：{done.path}（{size / 1024 / 1024:.1f} MB）")
        self.stdout.write(f"  数据库 {done.manifest['database']['vendor']}：{len(done.manifest['tables'])} 张表，"
                          f"{done.rows:,} 行；上传文件 {done.media_files} 个")
        self.stdout.write("  不含密钥：恢复时须配置同一个个人信息密钥。")
