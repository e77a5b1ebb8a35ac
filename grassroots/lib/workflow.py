"""The versioned transition, once for every workflow (cases, disputes, petitions).

A record that moves through states carries `version`, raised by one on every transition.
Whoever acts names the version they saw, and the write is a compare-and-set:

    UPDATE … SET version = version + 1, … WHERE pk = <pk> AND version = <seen>

so of two people acting on what they both saw, exactly one succeeds. The other is told that
someone was first (`Conflict`, 409) together with what changed meanwhile — the current state
and version and the timeline events since the version they saw (`changes`) — and never a
refusal. The checks come in this order, in every app, on pages and in the API:

  1. scope — may the actor see the record at all (404, audited; the caller loads the record
     through its app's scoped query);
  2. the version — a stale one is a Conflict (409, *not* audited: losing a race is no offence);
  3. the permission for the action in the record's current state (403, audited).

Each app describes its workflow once with a `Flow` and raises its own Conflict class, which
subclasses `Conflict` here so pages and the API can show `details()`.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import F, Model


class Conflict(Exception):
    """Mixin for an app's Conflict: someone changed the record first. `current` is filled by
    `stale()`: {"state": {"code", "label"}, "version": n, "changes": [event, …]}."""

    status = 409
    current: dict | None = None

    def details(self) -> dict:
        return dict(self.current or {"state": None, "version": None, "changes": []})


@dataclass(frozen=True)
class Flow:
    """How one app's records move: the model, its state field and labels, its timeline."""

    model: type[Model]
    state_field: str  # "state" (cases, petitions) or "stage" (disputes)
    event_model: type[Model]
    event_fk: str  # the event's foreign key to the record ("case", "dispute", "petition")
    event_from: str  # the event's from/to state fields
    event_to: str
    labels: dict  # state code → Chinese label
    action_label: Callable[[str], str]
    message: str  # the Conflict message shown to the loser
    conflict: type[Exception]  # the app's Conflict (subclass of lib.workflow.Conflict)


def _event_row(flow: Flow, event) -> dict:
    before, after = getattr(event, flow.event_from), getattr(event, flow.event_to)
    return {
        "at": event.at.isoformat() if event.at else None,
        "version": event.version,
        "action": event.action,
        "label": flow.action_label(event.action),
        "actor_name": event.actor_name,
        "from_state": before,
        "to_state": after,
        "from_label": flow.labels.get(before, ""),
        "to_label": flow.labels.get(after, ""),
        "note": event.note,
    }


def stale(flow: Flow, pk, seen: int | None, message: str = "") -> Exception:
    """The app's Conflict for record PK when the actor saw version SEEN: the current state and
    version as stored now, and the events written since SEEN (oldest first)."""
    row = flow.model._base_manager.filter(pk=pk).values(flow.state_field, "version").first() or {}
    current = row.get("version")
    events = []
    if seen is not None and current is not None:
        qs = flow.event_model._base_manager.filter(**{f"{flow.event_fk}_id": pk, "version__gt": seen}).order_by(
            "version", "id")
        events = [_event_row(flow, e) for e in qs[:50]]
    state = row.get(flow.state_field)
    exc = flow.conflict(message or flow.message, "version")
    exc.current = {
        "state": {"code": state, "label": flow.labels.get(state, "")} if state else None,
        "version": current,
        "seen_version": seen,
        "changes": events,
    }
    return exc


def check_version(flow: Flow, record, version: int | None) -> None:
    """Step 2: a stale VERSION (the record in hand is newer) is a Conflict. None: not given
    (an action that does not change the state, such as a supervision, may omit it)."""
    if version is not None and version != record.version:
        raise stale(flow, record.pk, version)


def compare_and_set(flow: Flow, record, version: int, changes: dict) -> None:
    """Write CHANGES to RECORD only if it is still at VERSION, raising it by one; otherwise the
    Conflict with what changed. Call inside the transaction that also writes the event."""
    updated = flow.model._base_manager.filter(pk=record.pk, version=version).update(
        version=F("version") + 1, **changes)
    if not updated:
        raise stale(flow, record.pk, version)
    record.version = version + 1


def conflict_text(exc: Exception) -> str:
    """What changed, in one Chinese sentence for a page: "事件现为“处置中”（第 4 版）：王调度 派遣；…"."""
    details = exc.details() if isinstance(exc, Conflict) else {}
    state = (details.get("state") or {}).get("label")
    parts = []
    if state:
        parts.append(f"现为“{state}”")
    steps = [f"{c['actor_name'] or '系统'}{c['label']}" + (f"（{c['to_label']}）" if c["to_label"] and
             c["to_label"] != c["from_label"] else "") for c in details.get("changes", [])]
    if steps:
        parts.append("您打开页面后：" + "；".join(steps))
    return "，".join(parts)
