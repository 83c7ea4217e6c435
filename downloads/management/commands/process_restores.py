import os
import signal
import socket
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from downloads import services


class Command(BaseCommand):
    help = (
        "Restore nearline files into their location's cache, oldest request first. Runs until "
        "stopped (SIGTERM/SIGINT finish the current copy first); --once empties the queue and "
        "exits. Several workers may run at once: each request is claimed by exactly one."
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
        done = failed = 0
        while not stopping.is_set():
            close_old_connections()
            restore = services.restore_claim(worker=worker)
            if restore is None:
                if once:
                    break
                stopping.wait(interval)
                continue
            if services.restore_run(restore=restore):
                done += 1
                self.stdout.write(
                    f"restored {restore.data_file.filename} ({restore.data_file.checksum})"
                )
            else:
                failed += 1
                self.stdout.write(
                    f"FAILED {restore.data_file.filename} ({restore.data_file.checksum})"
                )
        self.stdout.write(f"{done} restored, {failed} failed.")
