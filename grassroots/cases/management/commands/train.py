"""`grassroots train`: retrain the matter classifier on the shipped examples and this
deployment's own history (every correction a dispatcher made), and save it where the
application loads it from (settings.CLASSIFIER_MODEL_PATH)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from grassroots.cases import classifier


def corrections() -> list[tuple[str, str]]:
    """(text, chosen code) for every correction kept by the cases app; none before it exists."""
    try:
        from grassroots.cases.queries import corrections as kept_corrections
    except ImportError:
        return []
    from django.db import DatabaseError

    try:
        return list(kept_corrections())
    except DatabaseError as error:  # never train silently without the deployment's history
        raise CommandError(f"无法读取纠正记录（{error}）；数据库是否已迁移？请先运行 grassroots migrate") from error


def matter_names() -> dict[str, str]:
    """The deployment's own matter names (an admin may have renamed or added matters)."""
    try:
        from grassroots.cases.models import Matter

        return dict(Matter.objects.values_list("code", "name"))
    except Exception:  # the catalog is not in the database yet: the shipped names serve
        return {}


class Command(BaseCommand):
    help = "用自带样本、事项目录说明和本部署派单员的纠正记录重新训练事项分类模型"

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, help="模型文件（默认 settings.CLASSIFIER_MODEL_PATH）")

    def handle(self, *args, **options):
        path = options["output"] or classifier.model_path()
        if path is None:
            raise CommandError("未设置 CLASSIFIER_MODEL_PATH，请用 --output 指定模型文件")
        extra = corrections()
        model = classifier.train(extra, names=matter_names())
        classifier.save(model, path)
        classifier.set_default_model(model)
        stats = model.stats
        self.stdout.write(
            f"训练完成：自带样本 {stats['shipped']} 条（含事项目录说明），纠正记录 {stats['corrections']} 条，"
            f"共 {stats['codes']} 个事项；训练集准确率 {stats['training_accuracy']:.1%}，用时 {stats['seconds']} 秒。"
        )
        self.stdout.write(f"模型已保存到 {path}（{Path(path).stat().st_size / 1024:.0f} KiB）")
