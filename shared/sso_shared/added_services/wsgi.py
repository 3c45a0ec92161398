"""The WSGI application of a service added with ./stack add-service (gunicorn: sso_shared.added_services.gunicorn)."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
