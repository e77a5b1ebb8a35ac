"""Navigation entries of the ledger part (called by grassroots.front.context)."""


def nav_items(user) -> list[dict]:
    return []
