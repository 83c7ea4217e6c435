"""A real S3 API for tests: moto's standalone server on 127.0.0.1, in a thread of the test
process. Each test gets an empty one; moto keeps its state in the process, so it is
emptied when a server starts, whatever the test before left."""

import logging
import re

import boto3
import pytest
import requests

BUCKET = "archive"
REGION = "us-east-1"
# moto accepts any credentials until told to check them (refuse_unknown_credentials).
CREDENTIALS = {"access_key": "test-key", "secret_key": "test-secret"}
RESTORE_MODEL = "s3::keyrestore"


class RequestLog(logging.Handler):
    """The request lines the server logs (werkzeug's: `"POST /archive/key?restore HTTP/1.1"
    202 -`), in `lines`, without the colours werkzeug gives some of them."""

    COLOURS = re.compile(r"\x1b\[[0-9;]*m")

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.COLOURS.sub("", record.getMessage()))

    def count(self, request: str) -> int:
        """How many requests it has answered that begin with `request`, such as
        `POST /archive/tape/key?restore`."""
        return sum(f'"{request}' in line for line in self.lines)


class S3Server:
    def __init__(self):
        # Imported here: moto takes seconds to import, and most test processes need none.
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.running = False
        self.url = None
        self.client = None
        self.requests = RequestLog()

    def start(self) -> "S3Server":
        # Its request lines go to self.requests, not to stderr.
        werkzeug = logging.getLogger("werkzeug")
        werkzeug.setLevel(logging.INFO)
        werkzeug.propagate = False
        werkzeug.handlers = [self.requests]
        self._server.start()
        self.running = True
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self._reset()
        self.client = boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["access_key"],
            aws_secret_access_key=CREDENTIALS["secret_key"],
        )
        self.client.create_bucket(Bucket=BUCKET)
        return self

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._reset()
            self._server.stop()

    def put(self, key: str, data: bytes, *, storage_class: str = "STANDARD") -> None:
        """Store `data` as object `key` (prefix included) of the test bucket."""
        self.client.put_object(Bucket=BUCKET, Key=key, Body=data, StorageClass=storage_class)

    def location(self, **fields) -> dict:
        """The STORAGE_CONFIG entry of an s3 location on this server's bucket."""
        return {
            "backend": "s3",
            "bucket": BUCKET,
            "endpoint_url": self.url,
            "region": REGION,
            **CREDENTIALS,
            # Fail fast when the test stops the server.
            "retries": 0,
            "connect_timeout": 2,
            "timeout": 5,
            **fields,
        }

    def restores_take(self, polls: int) -> None:
        """From now on, a Glacier restore shows `ongoing-request="true"` to the first
        `polls` reads of the object, then is done (moto's default: done at once)."""
        transition = {"progression": "manual", "times": polls}
        self._moto_api(
            "state-manager/set-transition",
            json={"model_name": RESTORE_MODEL, "transition": transition},
        )

    def refuse_unknown_credentials(self) -> None:
        """From now on, refuse every request: no credentials are known to moto's IAM."""
        self._moto_api("reset-auth", data=b"0")

    def _reset(self) -> None:
        self._moto_api("reset")
        self._moto_api("reset-auth", data=b"inf")
        self._moto_api("state-manager/unset-transition", json={"model_name": RESTORE_MODEL})

    def _moto_api(self, path: str, **body) -> None:
        response = requests.post(f"{self.url}/moto-api/{path}", timeout=10, **body)
        response.raise_for_status()

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@pytest.fixture
def s3_server():
    """An empty S3 API with the bucket BUCKET, at `s3_server.url`; stopped at the end."""
    server = S3Server()
    try:
        yield server.start()
    finally:
        server.stop()
