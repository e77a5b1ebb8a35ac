from django.core.management.base import BaseCommand, CommandError

from grassroots.territory.coverage import check_region
from grassroots.territory.models import Region


class Command(BaseCommand):
    help = "检查每个社区的网格是否有重叠或缝隙。有问题时退出码为 1。"

    def add_arguments(self, parser):
        parser.add_argument("--region", help="只检查该节点（代码）以下的社区；默认全部")

    def handle(self, *args, region=None, **options):
        if region:
            node = Region.objects.filter(code=region).first()
            if node is None:
                raise CommandError(f"节点不存在：{region}")
            roots = [node]
        else:
            roots = list(Region.objects.filter(parent__isnull=True).order_by("code"))
            if not roots:
                raise CommandError("系统中还没有辖区数据")
        reports = [report for root in roots for report in check_region(root)]
        bad = [r for r in reports if not r.ok]
        for r in bad:
            self.stdout.write(f"{r.code} {r.name}（{r.grid_count} 个网格）")
            for line in r.problems():
                self.stdout.write(f"  - {line}")
        self.stdout.write(f"检查了 {len(reports)} 个社区，{len(bad)} 个有问题")
        if bad:
            raise SystemExit(1)
