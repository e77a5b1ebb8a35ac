"""Navigation entries of the disputes part (called by grassroots.front.context)."""


def nav_items(user) -> list[dict]:
    return []
