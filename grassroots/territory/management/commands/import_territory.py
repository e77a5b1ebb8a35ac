from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from grassroots.territory.services import import_territory_files


class Command(BaseCommand):
    help = "导入辖区树（CSV: code,name,level,parent_code）和网格边界（GeoJSON）。任何一行有错则什么都不写入。"

    def add_arguments(self, parser):
        parser.add_argument("--tree", type=Path, help="CSV file: code,name,level,parent_code")
        parser.add_argument("--grids", type=Path, help="GeoJSON FeatureCollection; properties.code names the node")
        parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")

    def handle(self, *args, tree=None, grids=None, dry_run=False, **options):
        if not tree and not grids:
            raise CommandError("请至少指定 --tree 或 --grids")
        for path in (tree, grids):
            if path and not path.is_file():
                raise CommandError(f"文件不存在：{path}")
        report = import_territory_files(tree, grids, dry_run=dry_run)
        if report.errors:
            for problem in report.errors:
                self.stderr.write(str(problem))
            raise CommandError(f"发现 {len(report.errors)} 处错误，未导入任何数据")
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(warning))
        verb = "检查通过（试运行，未写入）" if dry_run else "导入完成"
        self.stdout.write(
            self.style.SUCCESS(f"{verb}：新建 {report.created} 个节点，更新 {report.updated} 个，边界 {report.boundaries} 个")
        )
