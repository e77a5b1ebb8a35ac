"""The worker's bookkeeping (next_due_at, the colour acted on, the escalation level) moves from
the case row to a narrow CaseClock row; the case keeps the moments its clocks turn yellow and
red instead of a stored colour."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_clocks(apps, schema_editor):
    """Clock rows from the case columns; the worker's reminders from its "warn" events onto
    them; the "warn", "escalate" and "supervise" events dropped (the timeline shows the
    reminders and the Supervision rows themselves)."""
    from grassroots.cases.deadlines import thresholds

    Case = apps.get_model("cases", "Case")
    CaseClock = apps.get_model("cases", "CaseClock")
    CaseEvent = apps.get_model("cases", "CaseEvent")
    reminders: dict[int, list] = {}
    for case_id, at, data in CaseEvent.objects.filter(action="warn").order_by("at", "id").values_list(
            "case_id", "at", "data"):
        reminders.setdefault(case_id, []).append({"at": at.isoformat(), "clock": data.get("clock", ""),
                                                  "due": data.get("due")})
    columns = ("pk", "state", "accepted_at", "responded_at", "respond_due_at", "resolve_due_at", "next_due_at", "alert",
               "escalation_level")
    clocks, cases = [], []
    for row in Case.objects.order_by("pk").values_list(*columns).iterator(chunk_size=2000):
        values = dict(zip(columns, row, strict=True))
        clocks.append(CaseClock(case_id=values["pk"], next_due_at=values["next_due_at"], alert=values["alert"],
                                escalation_level=values["escalation_level"], reminders=reminders.get(values["pk"], [])))
        case = Case(**{k: v for k, v in values.items() if k not in ("next_due_at", "alert", "escalation_level")})
        case.yellow_at, case.red_at = thresholds(case)
        if case.yellow_at is not None:
            cases.append(case)
        if len(clocks) >= 2000:
            CaseClock.objects.bulk_create(clocks)
            Case.objects.bulk_update(cases, ["yellow_at", "red_at"])
            clocks, cases = [], []
    CaseClock.objects.bulk_create(clocks)
    Case.objects.bulk_update(cases, ["yellow_at", "red_at"])
    CaseEvent.objects.filter(action__in=["warn", "escalate", "supervise"]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0006_notification_link'),
        ('territory', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CaseClock',
            fields=[
                ('case', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='clock', serialize=False, to='cases.case')),
                ('next_due_at', models.DateTimeField(blank=True, null=True)),
                ('alert', models.CharField(choices=[('green', '正常'), ('yellow', '临期'), ('red', '超期')], default='green', max_length=6)),
                ('escalation_level', models.PositiveSmallIntegerField(default=0)),
                ('reminders', models.JSONField(blank=True, default=list)),
            ],
            options={
                'verbose_name': '时限跟踪',
            },
        ),
        migrations.AddField(
            model_name='case',
            name='red_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='case',
            name='yellow_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(move_clocks, migrations.RunPython.noop),
    ]
