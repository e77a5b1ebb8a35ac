"""The one place that answers "may this user see / do this?".

Every list, detail page, export and API endpoint asks here. Two questions:
  * can(user, action)      — does the user's role allow the action at all?
  * scope (regions_q, …)   — which records lie inside the user's scope?
Anything outside the scope is answered with 404, as if it did not exist, and the
attempt is written to the audit log.
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from grassroots.accounts.models import AuditEvent, User
from grassroots.accounts.roles import PERMISSIONS, Role
from grassroots.lib import net
from grassroots.territory.levels import DEPTH, Level
from grassroots.territory.models import Department, Region
from grassroots.territory.queries import path_prefix_q

NOTHING = Q(pk__in=[])


class Denied(Exception):
    """The role does not allow the action (403)."""

    def __init__(self, action: str, message: str = "您的角色无权执行此操作"):
        super().__init__(message)
        self.action = action
        self.message = message


def can(user: User, action: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return action in PERMISSIONS.get(user.role, frozenset())


def require(user: User, action: str, request=None) -> None:
    if not can(user, action):
        audit_denial(user, request, f"action {action}")
        raise Denied(action)


# --- territory scope -----------------------------------------------------------------


def scope_root(user: User) -> Region | None:
    """The territory node whose subtree the user may see, or None for nothing.

    A staff account scoped only to a department sees the territory of that department's
    district. A superuser, or an admin without a region, sees the whole tree (returned
    as None together with sees_everything()).
    """
    if not user.is_authenticated or not user.is_active or user.role == Role.RESIDENT and not user.is_superuser:
        return None
    if user.region_id:
        return user.region
    if user.department_id:
        return user.department.district
    return None


def sees_everything(user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or (user.role == Role.ADMIN and not user.region_id and not user.department_id))
    )


def regions_q(user: User, path_field: str = "path", *, indexed: bool = True) -> Q:
    """A filter selecting the records whose territory path lies inside the user's scope
    (indexed=False: see territory.models.NotIndexed)."""
    if sees_everything(user):
        return Q()
    root = scope_root(user)
    if root is None:
        return NOTHING
    return path_prefix_q(path_field, root.path, indexed=indexed)


def visible_regions(user: User) -> QuerySet[Region]:
    return Region.objects.filter(regions_q(user))


def path_in_scope(user: User, path: str) -> bool:
    """Whether a record at territory PATH lies inside the user's scope."""
    if sees_everything(user):
        return True
    root = scope_root(user)
    return root is not None and path.startswith(root.path)


def region_in_scope(user: User, region: Region) -> bool:
    return path_in_scope(user, region.path)


def scoped(user: User, qs: QuerySet, path_field: str) -> QuerySet:
    """Restrict any queryset to the user's territory scope through PATH_FIELD (e.g. "grid__path")."""
    return qs.filter(regions_q(user, path_field))


def records_q(user: User, *, path_field: str, department_fields: tuple[str, ...] = (), owner_field: str = "") -> Q:
    """A filter for records that hang off the territory and may be assigned to departments
    (cases, disputes…): inside the user's territory scope, or assigned to the user's
    department, or (for anyone) reported by the user themself.

    Unlike territory pages, a department-only account does not see its district's records:
    only those its department leads or assists.
    """
    if sees_everything(user):
        return Q()
    if not user.is_authenticated or not user.is_active:
        return NOTHING
    q = NOTHING
    if user.role != Role.RESIDENT and user.region_id:
        q |= path_prefix_q(path_field, user.region.path)
    if user.role != Role.RESIDENT and user.department_id:
        for field in department_fields:
            q |= Q(**{field: user.department_id})
    if owner_field:
        q |= Q(**{owner_field: user.pk})
    return q


def get_region_or_404(user: User, code: str, request=None) -> Region:
    region = Region.objects.select_related("parent").filter(code=code).first()
    if region is None:
        raise Http404("辖区节点不存在")
    if not region_in_scope(user, region):
        audit_denial(user, request, f"region {code} outside scope")
        raise Http404("辖区节点不存在")
    return region


def home_region(user: User) -> Region | None:
    """Where the user's territory pages start: their scope root, or the top of the tree."""
    root = scope_root(user)
    if root is not None:
        return root
    if sees_everything(user):
        return Region.objects.filter(parent__isnull=True).order_by("code").first()
    return None


# --- departments ---------------------------------------------------------------------


def visible_departments(user: User) -> QuerySet[Department]:
    """Departments a user may see: their own department, or those of the districts in
    (or containing) their territory scope."""
    qs = Department.objects.select_related("district")
    if sees_everything(user):
        return qs
    if not user.is_authenticated or user.role == Role.RESIDENT:
        return qs.none()
    if user.department_id and not user.region_id:
        return qs.filter(pk=user.department_id)
    root = scope_root(user)
    if root is None:
        return qs.none()
    if DEPTH[root.level] >= DEPTH[Level.DISTRICT]:
        district_code = root.path.strip("/").split("/")[DEPTH[Level.DISTRICT]]
        return qs.filter(district__code=district_code)
    return qs.filter(path_prefix_q("district__path", root.path))


# --- audit ---------------------------------------------------------------------------


def client_ip(request) -> str | None:
    """The client's address as the rate limits and the login lockout see it (lib/net.py, PROXY_COUNT)."""
    return net.client_ip(request)


def audit(kind: str, *, user: User | None = None, username: str = "", request=None, detail: str = "",
          region_path: str = "") -> None:
    AuditEvent.objects.create(
        kind=kind,
        user=user if user is not None and user.is_authenticated else None,
        username=username or (user.username if user is not None and user.is_authenticated else ""),
        ip=client_ip(request),
        path=(request.get_full_path()[:300] if request is not None else ""),
        detail=detail[:500],
        region_path=region_path,
    )


def audit_denial(user: User, request, detail: str) -> None:
    audit(AuditEvent.Kind.DENIED, user=user, request=request, detail=detail)


def reads_of(records, limit: int = 100) -> list[AuditEvent]:
    """Who read these records' personal data in full, newest first: what a resident is shown about
    the reads of their own records (个人信息保护法: the right to know who processed them)."""
    by_subject: dict[str, list[int]] = {}
    for record in records:
        by_subject.setdefault(record._meta.label_lower, []).append(record.pk)
    if not by_subject:
        return []
    q = Q(pk__in=[])
    for subject, ids in by_subject.items():
        q |= Q(subject=subject, subject_id__in=ids)
    return list(AuditEvent.objects.filter(q, kind=AuditEvent.Kind.PERSONAL_DATA, subject_id__isnull=False)
                .order_by("-at", "-id")[:limit])


def _read_event(user: User, record, fields: list[str], reason: str, request, channel: str, label: str,
                region_path: str) -> AuditEvent:
    meta = record._meta
    names = "、".join(str(meta.get_field(f).verbose_name) for f in fields)
    label = (label or str(record))[:100]
    verb = "导出" if channel == "export" else "查看"
    return AuditEvent(
        kind=AuditEvent.Kind.PERSONAL_DATA,
        user=user if user is not None and user.is_authenticated else None,
        username=user.username if user is not None and user.is_authenticated else "",
        ip=client_ip(request),
        path=(request.get_full_path()[:300] if request is not None else ""),
        detail=f"{verb}{meta.verbose_name}“{label}”的{names}；事由：{reason}"[:500],
        subject=meta.label_lower, subject_id=record.pk, subject_label=label, fields=",".join(fields)[:100],
        reason=reason[:300], channel=channel, region_path=region_path,
    )


def audit_read(user: User, record, fields: list[str], reason: str, *, request=None, channel: str = "page",
               label: str = "", region_path: str = "") -> AuditEvent:
    """Write a full read of personal data (lib.privacy.reveal): who, which record and fields, why, how."""
    event = _read_event(user, record, fields, reason, request, channel, label, region_path)
    event.save()
    return event


def audit_reads(user: User, records, fields: list[str], reason: str, *, request=None, channel: str = "export",
                label=str) -> None:
    """audit_read for many records in one statement (an export in full)."""
    AuditEvent.objects.bulk_create(
        [_read_event(user, r, fields, reason, request, channel, label(r), getattr(r, "region_path", "") or "")
         for r in records], batch_size=1000)
