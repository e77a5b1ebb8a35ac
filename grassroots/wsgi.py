import os

from django.core.wsgi import get_wsgi_application

from grassroots.lib.files import private_umask

private_umask()  # uploads and the SQLite files this process creates are owner-only (lib/files.py)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grassroots.settings")
application = get_wsgi_application()
