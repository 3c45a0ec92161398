"""gunicorn settings both services run with; each service's gunicorn.conf.py adds its prefix.

https://docs.gunicorn.org/en/stable/settings.html
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Measured on 2 cores with ./stack bench (docs/performance.md): 2 sync workers.
# https://docs.gunicorn.org/en/stable/settings.html#workers
# https://docs.gunicorn.org/en/stable/settings.html#worker-class
# https://docs.gunicorn.org/en/stable/settings.html#threads
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# The container's root filesystem is read-only; heartbeat files go to memory.
MEMORY_FS = "/dev/shm"  # noqa: S108 (a tmpfs, not a shared temp folder)
worker_tmp_dir = MEMORY_FS if os.path.isdir(MEMORY_FS) else None
# No access log of gunicorn's own: nginx logs every request, with its X-Request-ID (docs/performance.md).
# https://docs.gunicorn.org/en/stable/settings.html#accesslog
accesslog = None
errorlog = "-"
# Recycle workers now and then, staggered so they never restart together.
max_requests = 1000
max_requests_jitter = 100
# nginx already bounds requests (a request line or header over 8k gets its 414/400), and passes
# on what it accepted. gunicorn's own, smaller limits (a 4094-byte request line) made it drop such
# a request mid-way, which nginx reported as a 502. 0 means no limit of gunicorn's own.
# https://docs.gunicorn.org/en/stable/settings.html#limit-request-line
limit_request_line = 0
limit_request_field_size = 0
limit_request_fields = 32768  # gunicorn's maximum; nginx's 32k of headers hold fewer
# Only nginx may set X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def script_name_env(service: str) -> list[str]:
    """gunicorn strips this prefix from each path and hands it to Django as SCRIPT_NAME."""
    # Read afresh, not the cached declaration: the master must hold nothing its workers would inherit.
    from sso_shared.environment.services import declaration_path, read_declaration

    return [f"SCRIPT_NAME={read_declaration(declaration_path())[service]['prefix']}"]


def on_starting(server):
    """Refuse to start when this service's settings disagree with the other services' records.

    Runs once before any worker exists, with the same code as ``manage.py sso_register``, in a
    child process of the master: the master itself never loads Django. Its workers, forked from it,
    load the settings themselves, so a SIGHUP gives new workers that read them again (services.toml
    after ./stack add-service, say). https://docs.gunicorn.org/en/stable/settings.html#on-starting
    """
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        os._exit(register_in_this_process(server, write_end))
    os.close(write_end)
    with os.fdopen(read_end, "rb") as said:
        reason = said.read().decode(errors="replace")
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        server.halt(reason=reason or "the check of this service's settings failed (above)", exit_status=1)


def register_in_this_process(server, reason_pipe: int) -> int:
    """register_or_refuse: 0, or 1 with the reason written to REASON_PIPE."""
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from sso_shared.agreement.startup import StartRefused, register_or_refuse

        try:
            register_or_refuse(report=server.log.warning)
        except StartRefused as refusal:
            os.write(reason_pipe, str(refusal).encode())
            return 1
        return 0
    except BaseException:  # noqa: BLE001 (whatever stops it is said, and the start stops)
        server.log.exception("the check of this service's settings could not run")
        return 1


def post_worker_init(worker):
    """Each worker holds its service's presence lock while it lives (sso_shared.agreement.presence).

    Taken in the worker, after the fork, on a connection of its own: no process
    ever shares that connection, and PostgreSQL drops the lock when the worker ends.
    https://docs.gunicorn.org/en/stable/settings.html#post-worker-init
    """
    from django.conf import settings

    from sso_shared.agreement.presence import hold_presence
    from sso_shared.environment.services import service_label

    hold_presence(service_label(settings.SSO_SERVICE_NAME))
