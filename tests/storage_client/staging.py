"""The staging service of a remote nearline storage, played by a small Python server.

nginx serves the cache folder (real Range handling); this server answers the restore and
evict endpoints, which nginx cannot (POST and DELETE on static files).
"""

import http.server
import pathlib
import threading
import time
from urllib.parse import unquote


class StagingServer:
    """POST /restore/<key> copies tape/<key> into cache/<key>; DELETE /cache/<key> drops it.

    Keys in `broken` are answered 500. Records (method, path, headers) of every request;
    waits `delay` seconds before answering, as a slow tape drive would.
    """

    def __init__(self, tape: pathlib.Path, cache: pathlib.Path, broken=()):
        self.tape = tape
        self.cache = cache
        self.broken = set(broken)
        self.requests = []
        self.delay = 0.0
        staging = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                key = staging.record(self, "/restore/")
                if key is None or key in staging.broken:
                    return self.answer(500)
                source = staging.tape / key
                if not source.is_file():
                    return self.answer(404)
                target = staging.cache / key
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
                self.answer(200)

            def do_DELETE(self):
                key = staging.record(self, "/cache/")
                if key is None or key in staging.broken:
                    return self.answer(500)
                target = staging.cache / key
                if not target.exists():
                    return self.answer(404)
                target.unlink()
                self.answer(204)

            def answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def record(self, handler, prefix):
        self.requests.append((handler.command, handler.path, dict(handler.headers)))
        time.sleep(self.delay)
        if not handler.path.startswith(prefix):
            return None
        return unquote(handler.path.removeprefix(prefix))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        try:
            # A short poll interval keeps shutdown() (and so each test's teardown) quick.
            threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        except BaseException:
            self.server.server_close()
            raise
        return self

    def __exit__(self, *exc_info):
        self.stop()
