"""Masking of personal data before it leaves the server (个人信息保护法: show only what is needed).

A masked value keeps enough to recognise one's own record or tell two apart on a
screen ("138****1234"), and never enough to call or identify the person.
"""


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
