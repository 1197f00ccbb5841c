"""An S3 endpoint for the tests: moto's ThreadedMotoServer on 127.0.0.1, on a free port.

Use from a test module with the root conftest's ``pytest_plugins`` or import the fixtures.
Credentials and the endpoint reach s3fs the way they do in CI: through the environment
(``AWS_ENDPOINT_URL`` and friends), so subprocess writers inherit them too.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

BUCKET = "model-gate-tests"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    """Start moto's S3 server once per session; yield the environment that points at it."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(),
                                           verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket=BUCKET)
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


@pytest.fixture
def s3_url(s3_server: dict[str, str]) -> str:
    """A fresh, empty archive URL on the test bucket."""
    return f"s3://{BUCKET}/archive-{uuid.uuid4().hex[:12]}"
