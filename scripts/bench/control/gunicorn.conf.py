"""The control's gunicorn: the same settings as both services' (sso_shared.gunicorn_defaults), minus
their start-up hooks (registering in the shared database, the presence lock), which the control has not."""

from sso_shared.gunicorn_defaults import (  # noqa: F401 (gunicorn reads them from this module)
    accesslog,
    errorlog,
    forwarded_allow_ips,
    graceful_timeout,
    keepalive,
    limit_request_field_size,
    limit_request_fields,
    limit_request_line,
    max_requests,
    max_requests_jitter,
    threads,
    timeout,
    worker_class,
    worker_tmp_dir,
    workers,
)

wsgi_app = "control.wsgi:application"
