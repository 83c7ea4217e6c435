import os
import signal
import socket
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from downloads import services


class Command(BaseCommand):
    help = (
        "Restore nearline files into their location's cache, oldest request first, and poll "
        "the restores a storage runs in the background (S3 Glacier) every "
        "RESTORE_POLL_SECONDS. Runs until stopped (SIGTERM/SIGINT finish the current copy "
        "first); --once empties the queue, polls each restore due once, and exits. Several "
        "workers may run at once: each request, and each poll, is claimed by exactly one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="exit when the queue is empty")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="seconds between polls of an empty queue"
        )

    def handle(self, *args, once, interval, **options):
        worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        stopping = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stopping.set())
        counts = {status: 0 for status in self.SAYS}
        started = timezone.now()
        if not once:
            self.say(f"worker {worker} waiting for restore requests")
        while not stopping.is_set():
            close_old_connections()
            restore = services.restore_claim(worker=worker)
            if restore is not None:
                self.report(services.restore_run(restore=restore), restore, counts)
                continue
            restore = services.restore_poll_claim(now=started if once else None)
            if restore is not None:
                self.report(services.restore_poll(restore=restore), restore, counts)
                continue
            if once:
                break
            stopping.wait(interval)
        summary = f"{counts['DONE']} restored, {counts['FAILED']} failed."
        if counts["RUNNING"]:
            summary += f" {counts['RUNNING']} still restoring in their storage."
        self.stdout.write(summary)

    SAYS = {"DONE": "restored", "FAILED": "FAILED", "RUNNING": "still restoring"}

    def report(self, status, restore, counts):
        counts[status] += 1
        data_file = restore.data_file
        self.say(f"{self.SAYS[status]} {data_file.filename} ({data_file.checksum})")

    def say(self, line):
        # At once, even when stdout is a file or a pipe (a service's journal): a line says
        # what has just happened, on which of several workers.
        self.stdout.write(line)
        self.stdout.flush()
