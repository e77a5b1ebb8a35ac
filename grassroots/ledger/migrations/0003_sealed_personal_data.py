"""Personal data through lib.privacy: the ledger's sealed columns become SealedFields (read back
as their masks), the stored masks go (an ID number's mask beside the stored birth date gave the
whole number back), and the full views move into the one audit log (accounts.AuditEvent)."""

import grassroots.lib.privacy
from django.db import migrations


def full_views_to_audit(apps, schema_editor):
    FullView = apps.get_model("ledger", "FullView")
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    for v in FullView.objects.order_by("pk").iterator(chunk_size=2000):
        event = AuditEvent.objects.create(
            kind="personal_data", user_id=v.user_id, username=v.username, ip=v.ip,
            detail=f"查看人口“{v.person_name}”的公民身份号码、联系电话；事由：{v.reason}"[:500],
            subject="ledger.person", subject_id=v.person_id, subject_label=v.person_name[:100],
            fields="id_number,phone", reason=v.reason[:300], channel="page", region_path=v.region_path,
        )
        AuditEvent.objects.filter(pk=event.pk).update(at=v.at)  # auto_now_add stamped it now


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_personal_data"),
        ("ledger", "0002_address_search"),
    ]

    operations = [
        migrations.RenameField("person", "id_cipher", "id_number"),
        migrations.RenameField("person", "phone_cipher", "phone"),
        migrations.AlterField(
            model_name="person", name="id_number",
            field=grassroots.lib.privacy.SealedField(blank=False, default="", kind="id", verbose_name="公民身份号码"),
        ),
        migrations.AlterField(
            model_name="person", name="phone",
            field=grassroots.lib.privacy.SealedField(blank=True, default="", kind="phone", verbose_name="联系电话"),
        ),
        migrations.AlterField(
            model_name="person", name="id_hash",
            field=grassroots.lib.privacy.DigestField(blank=False, of="id_number", part="id", unique=True),
        ),
        migrations.AlterField(
            model_name="person", name="id_tail6",
            field=grassroots.lib.privacy.DigestField(of="id_number", part="id6"),
        ),
        migrations.AlterField(
            model_name="person", name="id_tail4",
            field=grassroots.lib.privacy.DigestField(of="id_number", part="id4"),
        ),
        migrations.AlterField(
            model_name="person", name="phone_hash",
            field=grassroots.lib.privacy.DigestField(of="phone", part="phone"),
        ),
        migrations.AlterField(
            model_name="person", name="phone_tail4",
            field=grassroots.lib.privacy.DigestField(of="phone", part="phone4"),
        ),
        migrations.RemoveField("person", "id_masked"),
        migrations.RemoveField("person", "phone_masked"),
        migrations.RunPython(full_views_to_audit, migrations.RunPython.noop),
        migrations.DeleteModel("FullView"),
    ]
