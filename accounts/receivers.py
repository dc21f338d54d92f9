"""A user put into a role's group gets what the group needs to open the Warehouse."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from sites.roles import GROUPS_NEEDING_STAFF_STATUS

User = get_user_model()


@receiver(m2m_changed, sender=User.groups.through)
def staff_status_with_role(sender, instance, action, reverse, pk_set, **kwargs):
    """Joining Staff, Admins, Support or Customers ticks *Staff status*: the admin's gate
    refuses everyone without it, and a role without it only ever met "wrong password".

    Either side of the relation: ``user.groups.add(group)`` and ``group.user_set.add(user)``.
    Unticking it later is an Admin's choice; the user page then says what is missing
    (accounts/admin.py).
    """
    if action != "post_add" or not pk_set:
        return
    if reverse:
        if instance.name not in GROUPS_NEEDING_STAFF_STATUS:
            return
        users = list(User.objects.filter(pk__in=pk_set, is_staff=False))
    else:
        if not Group.objects.filter(pk__in=pk_set, name__in=GROUPS_NEEDING_STAFF_STATUS).exists():
            return
        users = [instance] if not instance.is_staff else []
    for user in users:
        # Saved (not a queryset update) so that the audit trail records the change.
        user.is_staff = True
        user.save(update_fields=["is_staff"])
