"""gunicorn settings for `make serve` (each overridable by the usual GUNICORN_CMD_ARGS)."""

import json
import logging
import os

from gunicorn import util

from regards_catalog.log import MaskTokensFilter

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WORKERS", "4"))
# Threads let one worker stream several files while others wait on the database. A
# download holds its thread until its client has read it (or stalled for
# DOWNLOAD_STALL_SECONDS): enough of them that a few dozen slow or stalled clients do
# not make everyone else wait. Each thread that ran a query keeps a database connection:
# WORKERS x THREADS x hosts must stay below PostgreSQL's max_connections. Of a worker's
# threads, REQUEST_CONCURRENCY (2) run their request's Python at once, the others wait for
# a turn (regards_catalog.middleware.RequestTurnsMiddleware).
worker_class = "gthread"
threads = int(os.environ.get("THREADS", "32"))
# A gthread worker accepts connections while it has fewer than this many, idle keep-alive
# ones included, and its threads serve them in turn. At the default (1000), the first
# worker to wake takes every connection of a burst, and one core does all the work while
# the others idle (wrk's 16 keep-alive connections all went to one of two workers). No
# more connections than threads: the next ones go to another worker.
worker_connections = threads
# Long downloads are normal: a worker is only killed when silent for this long.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# sendfile is on by default. Do not write `sendfile = True` here: gunicorn reads any
# value of this setting as --no-sendfile.
accesslog = "-"
# %(U)s is the path without its query string: tokens given as ?token= never reach the log.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%(a)s"'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# gunicorn answers a request it cannot parse (a bad request line, a URI or headers over its
# limits) itself, before Django sees it, with an HTML page from gunicorn.util.write_error.
# No setting or hook changes that page, so each worker replaces the function (gunicorn's
# worker calls it as `util.write_error`): the answer is the API's JSON error instead, with
# gunicorn's status, reason and message.
ERROR_CODES = {
    400: "invalid_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    501: "not_implemented",
}


def write_json_error(sock, status_int, reason, mesg):
    code = ERROR_CODES.get(status_int, "server_error" if status_int >= 500 else "invalid_request")
    message = mesg or reason
    # The shape of regards_catalog.errors.error_body, which cannot be imported here: it
    # loads DRF, which needs Django's settings, not configured when gunicorn reads this file.
    body = json.dumps({"code": code, "message": message, "messages": [message]}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def post_fork(server, worker):
    util.write_error = write_json_error
    # gunicorn logs the request line of a request it refuses, a ?token= included.
    logging.getLogger("gunicorn.error").addFilter(MaskTokensFilter())


def post_worker_init(worker):
    """Each worker renews the leases of its downloads and sweeps those that ran out, so a
    record left open by a killed worker is closed (ABORTED) even if this one has served
    nothing yet."""
    from django.apps import apps

    if apps.is_installed("downloads"):  # not in the bench's bare app, which shares this file
        from downloads.quotas import slot_keeper

        slot_keeper.start(sweep=True)
