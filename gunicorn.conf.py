"""gunicorn's configuration (docs/production.md): `gunicorn` in this folder reads it.

Every value comes from the Warehouse's settings, which alone read the environment
(``WEB_BIND``, ``WEB_WORKERS``, ``WEB_THREADS``, ``TRUSTED_PROXY_IPS``, ``LOG_FORMAT``).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warehouse.settings")

# Only the settings are read here; the apps load in each worker (warehouse/wsgi.py).
from django.conf import settings  # noqa: E402

from warehouse import production  # noqa: E402

wsgi_app = "warehouse.wsgi:application"
bind = [address.strip() for address in settings.WEB_BIND.split(",") if address.strip()]
workers = settings.WEB_WORKERS
# With threads > 1 gunicorn runs its gthread worker: a request waiting on Xero holds a thread,
# not a process.
threads = settings.WEB_THREADS
# Longer than the longest request (a connection test's budget plus a database wait), so a
# slow but healthy test is never killed halfway: computed from the settings.
timeout = production.worker_timeout()
graceful_timeout = timeout
# The proxy whose X-Forwarded-Proto (and -For) gunicorn believes: the one list of
# TRUSTED_PROXY_IPS, shared with SECURE_PROXY_SSL and the lockouts.
forwarded_allow_ips = production.forwarded_allow_ips()
# Each request's line goes through the app's own log handler and format (text or JSON), with
# the request id the app sent back; the app's redaction applies to it too.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
logconfig_dict = production.gunicorn_logging()
# gunicorn 24+ opens a control socket in the home folder, which the systemd unit keeps
# read-only (deploy/warehouse-web.service); nothing here uses it.
control_socket_disable = True
# Workers restart now and then, so a slow leak never grows for ever.
max_requests = 2000
max_requests_jitter = 200
