"""Where a page's CPU goes, in-process: N requests of one page through the project's WSGI application.

Run inside a configured Django project, as its shell's code: ``./stack manage b shell -c "$(cat
scripts/bench/profile_page.py)"`` (or the control's ``manage.py shell``). Set PROFILE_PATH (default /),
PROFILE_SCRIPT_NAME (the prefix gunicorn strips, e.g. /b), PROFILE_REQUESTS (default 2000), PROFILE_USER
(default bench) and PROFILE_TOP in the environment, or, where the environment does not pass through
(``./stack manage``), in ``os.environ`` before the code: ``-c "import os; os.environ['PROFILE_TOP'] = '30'; ..."``.

Each request is what gunicorn hands Django: a WSGI environ with the logged-in user's session cookie, the
response read to its end. Prints the CPU time of this process per request (no network, no nginx, no
gunicorn: Django, the project and psycopg2), that of its PostgreSQL backend, the queries per request,
and with PROFILE_TOP set, cProfile's functions by their own time. Figures printed, never asserted
(docs/performance.md).
"""

import cProfile
import io
import os
import pstats
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.test import Client
from django.test.client import RequestFactory
from django.test.utils import CaptureQueriesContext

path = os.environ.get("PROFILE_PATH", "/")
script_name = os.environ.get("PROFILE_SCRIPT_NAME", "")
count = int(os.environ.get("PROFILE_REQUESTS", "2000"))
top = int(os.environ.get("PROFILE_TOP", "0"))
user = get_user_model().objects.get(username=os.environ.get("PROFILE_USER", "bench"))

client = Client()
client.force_login(user)
cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
environ = RequestFactory().get(path).environ
environ.update(
    HTTP_COOKIE=cookie, HTTP_HOST=settings.ALLOWED_HOSTS[0], SCRIPT_NAME=script_name, REMOTE_ADDR="127.0.0.1"
)
application = get_wsgi_application()


def one_request() -> str:
    status = []
    body = application(dict(environ), lambda code, headers, exc_info=None: status.append(code))
    try:
        for _chunk in body:
            pass
    finally:
        body.close()
    return status[0]


first = one_request()
if not first.startswith("200"):
    raise SystemExit(f"{path} answered {first}, not 200")
for _ in range(200):  # warm: prepared statements, templates, the connection
    one_request()

with CaptureQueriesContext(connection) as captured:
    for _ in range(50):
        one_request()
queries = len(captured.captured_queries) / 50


def backend_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend, when it runs on this machine and /proc shows it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


profile = cProfile.Profile() if top else None
backend_before = backend_cpu_seconds()
started = time.process_time()
if profile:
    profile.enable()
for _ in range(count):
    one_request()
if profile:
    profile.disable()
cpu_ms = (time.process_time() - started) * 1000 / count
backend_after = backend_cpu_seconds()
print(f"{script_name}{path}: {cpu_ms:.3f} ms CPU per request, {queries:.0f} queries per request ({count} requests)")
if backend_before is not None and backend_after is not None:
    print(f"PostgreSQL backend: {(backend_after - backend_before) * 1000 / count:.3f} ms CPU per request")
if profile:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    print(f"{stats.total_calls / count:.0f} Python function calls per request (the CPU above includes cProfile's)")
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())
