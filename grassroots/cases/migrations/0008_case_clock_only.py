"""After 0007 has copied them: the case row loses the worker's columns; the clocks' moments and
the clock rows get their indexes; events and supervisions lose indexes nothing reads. (A migration of its own: on PostgreSQL the rows 0007 wrote
must be committed before the case table is altered.)"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0007_case_clock'),
        ('territory', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='case',
            name='case_next_due',
        ),
        migrations.RemoveIndex(
            model_name='case',
            name='case_alert_recent',
        ),
        migrations.RemoveField(
            model_name='case',
            name='alert',
        ),
        migrations.RemoveField(
            model_name='case',
            name='escalation_level',
        ),
        migrations.RemoveField(
            model_name='case',
            name='next_due_at',
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('yellow_at__isnull', False)), fields=['yellow_at', 'red_at', 'region_path', 'created_at', 'id'], name='case_due_soon'),
        ),
        migrations.AddIndex(
            model_name='caseclock',
            index=models.Index(condition=models.Q(('next_due_at__isnull', False)), fields=['next_due_at'], name='clock_next_due'),
        ),
        migrations.AlterField(
            model_name='caseevent',
            name='actor',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='supervision',
            name='opened_by',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='supervision',
            name='to_region',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='territory.region'),
        ),
    ]
