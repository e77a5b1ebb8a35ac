from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from grassroots.territory.directory import directory
from grassroots.territory.geo import invalidate_grid_index
from grassroots.territory.models import Department, Region


@receiver(post_save, sender=Region)
@receiver(post_delete, sender=Region)
def region_changed(sender, instance: Region, **kwargs) -> None:
    directory.invalidate()
    if instance.level == "grid":
        invalidate_grid_index()


@receiver(post_save, sender=Department)
@receiver(post_delete, sender=Department)
def department_changed(sender, instance: Department, **kwargs) -> None:
    directory.invalidate()
