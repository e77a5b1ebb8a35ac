from django.core.management.base import BaseCommand, CommandError

from grassroots.generator.city import DEFAULT_PASSWORD, GenerationRefused, generate_city, summary
from grassroots.generator.layout import SCALES


class Command(BaseCommand):
    help = "生成可复现的演示城市（辖区、网格、职能部门、账户）。只能在空数据库中运行。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", choices=list(SCALES), default="S",
            help="规模：S 演示（东城区 4 个街道）、M 东西朝三区、L 全市 16 区（性能测试）",
        )
        parser.add_argument("--seed", type=int, default=1, help="随机种子；相同种子生成相同的城市（默认 1）")
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help=f"所有生成账户的密码（默认 {DEFAULT_PASSWORD}）")

    def handle(self, *args, scale, seed, password, **options):
        self.stdout.write(f"正在生成规模 {scale} 的演示城市（随机种子 {seed}）…")
        try:
            ctx = generate_city(scale, seed, password, say=self.stdout.write)
        except GenerationRefused as exc:
            raise CommandError(str(exc)) from exc
        for line in summary(ctx):
            self.stdout.write(line)
