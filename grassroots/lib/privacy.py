"""Personal data (个人信息保护法): the one module every ID number and phone number goes through.

Where the platform keeps a resident's ID number or phone — the ledger, cases, disputes,
petitions, accounts — the column is a `SealedField` and, where the value must be found
again, one or more `DigestField`s beside it. In order:

1. **Sealed at rest.** The column holds only ciphertext: AES-256-GCM (the `cryptography`
   package) with a fresh 96-bit nonce per value, written "v2:<key id>:<base64>" so that a key
   rotation knows which key wrote which row. ("v1:<base64>" values, written by the ledger
   before this module, are still read.)
2. **Keyed digests** for search and matching: HMAC-SHA256 under a key of its own, cut to 128
   bits (32 hex characters), of the whole value or of its tail (the last 6 or 4 digits of an ID
   number, the last 4 of a phone). A database dump tells neither the numbers nor, unlike a
   plain hash, lets anyone test a guess without the key.
3. **Masked by default.** In Python a sealed column reads as a `Sealed`: a `str` whose text
   *is the mask* ("138****5678", "110101********1234"). A template, an API schema, an export
   or a log line that prints it prints the mask; the clear value comes only from `unseal()`,
   which the audited `reveal()` calls. Because a mask keeps the first six digits of an ID
   number and its last four, the birth date must never stand beside it (pages and API show
   the age); the database keeps the birth date but no tail of the number in clear.
4. **Keys.** `settings.PRIVACY_KEY` is the current key: it seals new values and keys the
   digests. `settings.PRIVACY_OLD_KEYS` are earlier keys still read while `grassroots
   rotate-key` re-seals every row in batches (the platform keeps running: reads try the key the
   row names, lookups match the digests of every live key). Each key yields an encryption key
   and a digest key through HMAC with distinct labels, so the two are never the same bytes.
5. **Audited full reads.** `reveal()` writes who read which fields of which record, why,
   when and from where (page, API or export) to the audit log *before* anything is decrypted.
   Whether the actor may read them at all is each app's policy; `reveal()` is what every such
   read goes through afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models, transaction
from django.db.models.lookups import Exact, IsNull
from django.db.models.query_utils import DeferredAttribute

log = logging.getLogger(__name__)

V1 = "v1:"
V2 = "v2:"
UNREADABLE = "（无法解密）"


class DecryptionFailed(Exception):
    """The stored value was not sealed with any configured key (wrong PRIVACY_KEY, or tampered)."""


# --- keys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    kid: str  # 8 hex characters: names the key in every value it seals, reveals nothing of it
    aead: AESGCM
    mac: bytes


@cache
def _key(secret: str) -> Key:
    master = secret.encode()
    # The ledger's labels of 2026-11: values and digests written then stay valid under the same key.
    enc = hmac.new(master, b"grassroots-ledger-encrypt-v1", hashlib.sha256).digest()
    mac = hmac.new(master, b"grassroots-ledger-hash-v1", hashlib.sha256).digest()
    kid = hmac.new(master, b"grassroots-key-id-v1", hashlib.sha256).hexdigest()[:8]
    return Key(kid, AESGCM(enc), mac)


def current_key() -> Key:
    return _key(settings.PRIVACY_KEY)


def live_keys() -> list[Key]:
    """The current key first, then every old key still configured (read during a rotation)."""
    keys = [current_key()]
    for secret in getattr(settings, "PRIVACY_OLD_KEYS", ()) or ():
        key = _key(secret)
        if key.kid not in {k.kid for k in keys}:
            keys.append(key)
    return keys


def key_id(secret: str) -> str:
    """The public name of a key (as in "v2:<kid>:…" and a backup's manifest)."""
    return _key(secret).kid


# --- sealing -----------------------------------------------------------------------------------

_AAD = b"grassroots-personal-data"
_AAD_V1 = b"ledger"


def seal(value: str) -> str:
    """Encrypt VALUE under the current key ("" stays "")."""
    if not value:
        return ""
    key = current_key()
    nonce = os.urandom(12)
    sealed = key.aead.encrypt(nonce, value.encode(), _AAD)
    return f"{V2}{key.kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(token: str) -> str:
    """The clear value of TOKEN, under whichever live key sealed it; DecryptionFailed otherwise.

    Code that shows a clear value to a person goes through reveal(), which audits it."""
    if not token:
        return ""
    if token.startswith(V2):
        kid, _, body = token[len(V2):].partition(":")
        keys = [k for k in live_keys() if k.kid == kid]
        if not keys:
            raise DecryptionFailed(f"数据由密钥 {kid} 加密，当前未配置该密钥")
        aad = _AAD
    elif token.startswith(V1):
        body, keys, aad = token[len(V1):], live_keys(), _AAD_V1
    else:
        raise DecryptionFailed("未知的加密格式")
    raw = base64.urlsafe_b64decode(body)
    for key in keys:
        try:
            return key.aead.decrypt(raw[:12], raw[12:], aad).decode()
        except InvalidTag:
            continue
    raise DecryptionFailed("无法解密：密钥不符或数据被篡改")


def is_token(value: str) -> bool:
    return value.startswith((V2, V1))


def sealed_by_current(token: str) -> bool:
    """Whether TOKEN was written under the current key (rotate-key skips those)."""
    return not token or token.startswith(f"{V2}{current_key().kid}:")


# --- keyed digests -----------------------------------------------------------------------------

_NON_DIGIT = re.compile(r"\D")


def phone_digits(phone: str) -> str:
    """The digits a phone is matched on: "010-6512 3456" → "01065123456", "+86 138…" → "138…"."""
    digits = _NON_DIGIT.sub("", phone or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def _id_part(n: int):
    return lambda v: "".join((v or "").split()).upper()[-n:] if n else "".join((v or "").split()).upper()


# What each digest kind is computed over (the part of the clear value a search may give).
PARTS = {
    "id": _id_part(0),
    "id6": _id_part(6),
    "id4": _id_part(4),
    "phone": phone_digits,
    "phone4": lambda v: phone_digits(v)[-4:],
}


def _hmac(key: Key, kind: str, part: str) -> str:
    return hmac.new(key.mac, f"{kind}:{part}".encode(), hashlib.sha256).hexdigest()[:32]


def digest(kind: str, value: str) -> str:
    """The keyed digest of VALUE's part KIND ("id", "id6", "id4", "phone", "phone4") under the current key."""
    part = PARTS[kind](value)
    return _hmac(current_key(), kind, part) if part else ""


def digests(kind: str, value: str) -> list[str]:
    """VALUE's digests under every live key: what a lookup matches (`field__in=digests(…)`), so
    rows not yet re-sealed by a rotation are still found."""
    part = PARTS[kind](value)
    if not part:
        return []
    return [_hmac(key, kind, part) for key in live_keys()]


def digest_aliases(kind: str, values) -> dict[str, str]:
    """Every live digest of each of VALUES → its digest under the current key: a bulk lookup
    matches the keys of this map (`field__in`) and files what it finds under the current digest."""
    out = {}
    for value in values:
        part = PARTS[kind](value)
        if not part:
            continue
        current = None
        for key in live_keys():
            d = _hmac(key, kind, part)
            current = current or d
            out[d] = current
    return out


# --- masks -----------------------------------------------------------------------------------


def mask_phone(phone: str | None) -> str:
    """A phone number with its middle hidden: 13812341234 → 138****1234.

    Longer numbers (+8613812341234) keep everything before the last eight characters,
    so the country code stays readable; shorter ones (landlines without area code) keep
    two characters at each end; anything under seven characters is masked entirely,
    because showing any part of it would show most of it.
    """
    value = "".join((phone or "").split())
    n = len(value)
    if n == 0:
        return ""
    if n >= 11:
        return value[: n - 8] + "****" + value[-4:]
    if n >= 7:
        return value[:2] + "*" * (n - 4) + value[-2:]
    return "*" * n


def mask_id(number: str | None) -> str:
    """110101199001011234 → 110101********1234: the county and the last four, never the birth date.

    The same for an organisation's 统一社会信用代码 (18 characters). Shown beside it: an age,
    never the birth date, which with the mask would give the whole number back."""
    value = "".join((number or "").split())
    if not value:
        return ""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


MASKS = {"phone": mask_phone, "id": mask_id}


class Sealed(str):
    """A sealed value as the code holds it. Its text is the mask, so printing it anywhere —
    a template, a JSON answer, an export, a log — shows only the mask. The token is what the
    column stores; `unseal(value)` / `reveal()` give the clear value."""

    kind: str
    token: str
    _plain: str | None

    def __new__(cls, kind: str, *, token: str = "", plain: str | None = None) -> Sealed:
        if plain is None and token:
            try:
                plain = unseal(token)
            except DecryptionFailed as exc:
                log.warning("personal data not readable: %s", exc)
                obj = super().__new__(cls, UNREADABLE)
                obj.kind, obj.token, obj._plain = kind, token, None
                return obj
        plain = plain or ""
        obj = super().__new__(cls, MASKS[kind](plain))
        obj.kind, obj.token, obj._plain = kind, token, plain
        return obj

    def __reduce__(self):  # pickled (the cache, sessions): as the token, never the clear value
        return (_restore, (self.kind, self.stored()))

    def __repr__(self) -> str:
        return f"<Sealed {self.kind} {str(self)!r}>"

    def __deepcopy__(self, memo):
        return self

    @property
    def readable(self) -> bool:
        return self._plain is not None

    def stored(self) -> str:
        """The token to store: the one read, while it is under the current key; else sealed anew."""
        if self.token and sealed_by_current(self.token):
            return self.token
        if self._plain is None:  # unreadable: keep what is there rather than lose it
            return self.token
        self.token = seal(self._plain)
        return self.token

    def matches(self, value: str, kind: str | None = None) -> bool:
        """Is the clear value VALUE (compared on the digest part KIND, the whole value by default)?"""
        kind = kind or ("id" if self.kind == "id" else "phone")
        return bool(self._plain) and PARTS[kind](self._plain) == PARTS[kind](value)


def _restore(kind: str, token: str) -> Sealed:
    return Sealed(kind, token=token)


def plain_of(value) -> str:
    """The clear value behind a Sealed (or a plain string) — for services that hand it on
    inside the platform (a document for the parties, a notification, a digest), never for display."""
    if isinstance(value, Sealed):
        if value._plain is None and value.token:
            raise DecryptionFailed("无法解密：密钥不符或数据被篡改")
        return value._plain or ""
    return value or ""


# --- model fields ------------------------------------------------------------------------------


class _SealedAttribute(DeferredAttribute):
    """Whatever is assigned to a sealed column becomes a Sealed at once, so even an unsaved
    record never holds the clear value where a template could print it."""

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = self.field.to_sealed(value)


class _SealedExact(Exact):
    """`sealed_field=""` (nothing kept), or `sealed_field=<token>` — the stored ciphertext itself,
    for a conditional UPDATE that must not overwrite a value changed meanwhile (rotate-key)."""

    prepare_rhs = False

    def get_prep_lookup(self):
        rhs = self.rhs.token if isinstance(self.rhs, Sealed) else self.rhs
        if rhs in ("", None):
            return ""
        if isinstance(rhs, str) and is_token(rhs):
            return rhs
        raise TypeError("密文字段不能按值查询，请使用其摘要字段（DigestField）")

    def get_db_prep_lookup(self, value, connection):
        return "%s", [value]


class SealedField(models.TextField):
    """An ID number ("id", also for 统一社会信用代码) or a phone ("phone"), stored only sealed.

    Assign the clear value; read a Sealed (the mask). Only `isnull` and `exact ""` lookups are
    allowed: a sealed value is never compared in the database — filter on its DigestField."""

    descriptor_class = _SealedAttribute

    def __init__(self, *args, kind: str = "phone", **kwargs):
        if kind not in MASKS:
            raise ValueError(f"unknown kind {kind!r}")
        self.kind = kind
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(kind=self.kind, blank=self.blank, default=self.default)  # __init__ defaults differ from Field's
        return name, path, args, kwargs

    def to_sealed(self, value) -> Sealed:
        if isinstance(value, Sealed):
            return value
        if value is None or value == "":
            return Sealed(self.kind)
        value = str(value)
        if is_token(value):
            return Sealed(self.kind, token=value)
        return Sealed(self.kind, plain=value)

    def from_db_value(self, value, expression, connection):
        return self.to_sealed(value)

    def to_python(self, value):
        return self.to_sealed(value)

    def get_prep_value(self, value):
        if value is None:
            return ""
        return self.to_sealed(value).stored()

    def value_to_string(self, obj):  # serialisation (dumpdata and friends): the token, not the mask
        return self.to_sealed(self.value_from_object(obj)).stored()

    def get_lookup(self, lookup_name):
        """Only `isnull` and `exact ""`: anything else would compare ciphertext."""
        return {"exact": _SealedExact, "isnull": IsNull}.get(lookup_name)


class DigestField(models.CharField):
    """The keyed digest of a SealedField's value (or of its tail), worked out on every save from
    that field (`of`) — create(), save(), bulk_create() and the intake's INSERT alike. A plain
    `QuerySet.update()` of the sealed column does not reach it: write both, or save()."""

    def __init__(self, *args, of: str = "", part: str = "phone", **kwargs):
        if part not in PARTS:
            raise ValueError(f"unknown digest part {part!r}")
        self.of, self.part = of, part
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(of=self.of, part=self.part, blank=self.blank, default=self.default)
        kwargs.pop("editable", None)
        if kwargs.get("max_length") == 32:
            kwargs.pop("max_length")
        return name, path, args, kwargs

    def pre_save(self, instance, add):
        value = getattr(instance, self.of)
        plain = value._plain if isinstance(value, Sealed) else (value or "")
        if plain is None:  # unreadable under the live keys: keep the stored digest
            return getattr(instance, self.attname)
        result = digest(self.part, plain) if plain else ""
        setattr(instance, self.attname, result)
        return result


def assign(instance, name: str, plain: str) -> None:
    """Set the sealed field NAME of INSTANCE to PLAIN and its digests at once — for bulk_update,
    which writes attributes as they are and does not run the digests' pre_save."""
    setattr(instance, name, plain or "")
    for d in digest_fields(type(instance)):
        if d.of == name:
            setattr(instance, d.attname, digest(d.part, plain) if plain else "")


def sealed_fields(model) -> list[SealedField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, SealedField)]


def digest_fields(model) -> list[DigestField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, DigestField)]


def columns(model, values: dict) -> dict:
    """The stored columns of a row of MODEL whose sealed fields have the clear VALUES: each
    sealed field's token and every digest of it. For writers that bypass the ORM's save (the
    generator's bulk rows, QuerySet.update, COPY)."""
    out = {}
    by_name = {f.name: f for f in sealed_fields(model)}
    for name, plain in values.items():
        field = by_name[name]
        plain = plain or ""
        out[field.attname] = seal(plain)
        for d in digest_fields(model):
            if d.of == name:
                out[d.attname] = digest(d.part, plain) if plain else ""
    return out


def reseal(model, *, batch: int = 1000, say=None) -> int:
    """Re-seal every row of MODEL whose sealed values are not under the current key — clear values
    left by an older schema, "v1:" values, values of an old key — and work its digests out anew
    under the current key. In batches by primary key, each row's UPDATE conditional on the tokens
    it read, so a value changed meanwhile by the running platform is left as that change wrote it
    (already under the current key). Safe to run again; returns the rows rewritten."""
    fields = sealed_fields(model)
    if not fields:
        return 0
    digests_of = {f.name: [d for d in digest_fields(model) if d.of == f.name] for f in fields}
    names = [f.attname for f in fields]
    done, last = 0, None
    while True:
        qs = model._base_manager.order_by("pk")
        if last is not None:
            qs = qs.filter(pk__gt=last)
        rows = list(qs.values_list("pk", *names)[:batch])
        if not rows:
            return done
        with transaction.atomic():
            done += _reseal_rows(model, fields, digests_of, rows)
        last = rows[-1][0]
        if say:
            say(model, done, last)


def _reseal_rows(model, fields, digests_of, rows) -> int:
    done = 0
    for pk, *values in rows:
        changes, unchanged = {}, {}
        for field, value in zip(fields, values, strict=True):
            if not value.token and not value._plain:
                continue
            if value.token and sealed_by_current(value.token):
                continue
            if value._plain is None:
                raise DecryptionFailed(f"{model._meta.label} {pk} 的{field.verbose_name}无法用已配置的密钥解密")
            changes[field.attname] = seal(value._plain)
            for d in digests_of[field.name]:
                changes[d.attname] = digest(d.part, value._plain)
            if value.token:
                unchanged[field.attname] = value.token
        if changes:
            done += model._base_manager.filter(pk=pk, **unchanged).update(**changes)
    return done


def personal_models() -> list:
    """Every installed model with a sealed column, in a stable order."""
    from django.apps import apps

    return sorted((m for m in apps.get_models() if sealed_fields(m)), key=lambda m: m._meta.label)


def key_census(model) -> dict[str, dict[str, int]]:
    """How MODEL's sealed values are held, per field: {"<kid>": n, "v1": n, "clear": n} (empty values
    not counted). What `grassroots rotate-key --check` reports before old keys are removed."""
    from django.db.models import Count
    from django.db.models.functions import Substr

    out = {}
    for field in sealed_fields(model):
        rows = (model._base_manager.exclude(**{field.attname: ""}).annotate(head=Substr(field.attname, 1, 12))
                .values_list("head").annotate(n=Count("pk")).order_by())
        counts: dict[str, int] = {}
        for head, n in rows:
            if head.startswith(V2):
                name = head[len(V2):].split(":")[0]
            elif head.startswith(V1):
                name = "v1"
            else:
                name = "clear"
            counts[name] = counts.get(name, 0) + n
        out[field.name] = counts
    return out


def resealer(app_label: str, model_name: str):
    """A migration step (RunPython) that seals the clear values a schema change left in a table."""

    def run(apps, schema_editor):
        reseal(apps.get_model(app_label, model_name))

    return run


# --- audited full reads ------------------------------------------------------------------------

REASON_MIN, REASON_MAX = 2, 300


class RevealRefused(ValueError):
    """The read was not carried out (a missing reason); the message is for the user."""

    def __init__(self, message: str, field: str = "reason"):
        super().__init__(message)
        self.message = message
        self.field = field


def reason_text(reason: str, *, minimum: int = REASON_MIN) -> str:
    why = " ".join((reason or "").split())
    if len(why) < minimum:
        raise RevealRefused(f"请说明查看完整信息的事由（至少 {minimum} 个字）")
    if len(why) > REASON_MAX:
        raise RevealRefused(f"查看事由不能超过 {REASON_MAX} 字")
    return why


def reveal(actor, record, field_names, *, reason: str, request=None, channel: str = "page", label: str = "",
           region_path: str = "", minimum: int = REASON_MIN) -> dict[str, str]:
    """The clear values of FIELD_NAMES on RECORD for ACTOR, after the read is written to the audit
    log: who, what (the record, its label, the fields), why, when, where from (CHANNEL: page, api
    or export) and the record's territory (REGION_PATH, for the scoped audit pages and the
    resident's own view). The caller has already decided that ACTOR may read them."""
    from grassroots.accounts.permissions import audit_read

    why = reason_text(reason, minimum=minimum)
    names = [field_names] if isinstance(field_names, str) else list(field_names)
    audit_read(actor, record, names, why, request=request, channel=channel, label=label,
               region_path=region_path or getattr(record, "region_path", "") or "")
    return {name: plain_of(getattr(record, name)) for name in names}


def reveal_many(actor, records: list, field_names: list[str], *, reason: str, request=None, channel: str = "export",
                label=str, minimum: int = REASON_MIN) -> list[dict[str, str]]:
    """reveal() for many records at once (an export in full): one audit row per record, so each
    person still sees the read among their own, all written before anything is decrypted."""
    from grassroots.accounts.permissions import audit_reads

    why = reason_text(reason, minimum=minimum)
    audit_reads(actor, records, field_names, why, request=request, channel=channel, label=label)
    return [{name: plain_of(getattr(r, name)) for name in field_names} for r in records]
