from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from grassroots.territory.geo import invalidate_grid_index
from grassroots.territory.models import Region


@receiver(post_save, sender=Region)
@receiver(post_delete, sender=Region)
def grid_changed(sender, instance: Region, **kwargs) -> None:
    if instance.level == "grid":
        invalidate_grid_index()
