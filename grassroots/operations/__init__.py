"""Running the platform: backups that restore (`grassroots backup`, `grassroots restore`) and the
owner-only files under var/. See docs/operations.md."""
