"""REST endpoints of the ledger part."""

from ninja import Router

router = Router()
