import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "swapadmin.settings")
application = get_wsgi_application()

# The URLconf, and with it every view, serializer and template tag module, loaded now rather
# than on the first request; then what start-up made is moved out of the collector's sight.
# A full (generation 2) collection walks every tracked object: in a server process that is
# the ~110,000 objects of Django, DRF and the project, 30-70 ms on this VM, paid by whichever
# request happens to cross the threshold (a 1,000-row API page allocates enough to cross it
# about one request in ten). Frozen, they are never walked nor freed; start-up's own garbage
# is collected first so that none of it is kept for good (docs/BENCHMARKS-control-plane.md).
get_resolver().url_patterns  # noqa: B018 (the property imports the URLconf)
gc.collect()
gc.freeze()
