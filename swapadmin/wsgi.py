import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "swapadmin.settings")
application = get_wsgi_application()

from swapadmin.heap import freeze_start_up  # noqa: E402 (once the settings module is named)

freeze_start_up()
