from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from grassroots.cases.catalog import matters
from grassroots.cases.models import Matter


@receiver(post_save, sender=Matter)
@receiver(post_delete, sender=Matter)
def matter_changed(sender, instance: Matter, **kwargs) -> None:
    matters.invalidate()
