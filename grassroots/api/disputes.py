"""REST endpoints of the disputes part."""

from ninja import Router

router = Router()
