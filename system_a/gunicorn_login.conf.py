"""System A's login workers: the POSTs of the forms that check a password, which nginx sends here.

Logged-in users' pages are served by gunicorn.conf.py's workers and never wait behind a login:
under a flood, these requests are refused cheaply, wait in line for a password check, or hash
(sso_shared.login_protection.login_gate, sso_shared.login_protection.password_checks;
docs/login-protection.md, "Under a flood").
Same application and settings as gunicorn.conf.py, in threads: most of their time is spent waiting
(in line, or on the database), and the hash itself releases the GIL (hashlib's PBKDF2 and scrypt run
in OpenSSL). Sixteen: the password checks, the few waiting in line (sso_shared.login_protection.password_checks), and
the refusals of a flood; in two processes, so that one being recycled never leaves the login without
workers. nginx queues no more than LOGIN_REQUESTS_AT_ONCE here (nginx/sso.conf.template).
https://docs.gunicorn.org/en/stable/design.html#how-many-threads
"""

from sso_shared.gunicorn_defaults import *  # noqa: F403
from sso_shared.gunicorn_defaults import script_name_env

wsgi_app = "config.wsgi:application"
raw_env = script_name_env("a")
bind = "0.0.0.0:8001"  # under Compose and Swarm; the native stack gives a socket of its own (--bind)
workers = 2
worker_class = "gthread"
threads = 8
# A flood sends tens of requests a second here, and each recycling loads the app again: far less often
# than A's workers (the jitter keeps the two apart).
max_requests = 20000
max_requests_jitter = 2000
