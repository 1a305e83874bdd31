"""A real S3-compatible server for the storage tests: moto's server, in a thread
of this test process, on a free port; and the site's default storage switched to
a fresh private bucket on it for one test."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from clinic.env import storage_from_url

KEY = "clinic-test"
SECRET = "s3cret/with+odd=chars"  # percent-encoded in the URL, as an operator would write it
REGION = "ap-east-1"


@dataclass
class S3Server:
    server: ThreadedMotoServer
    endpoint: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )

    def make_bucket(self) -> str:
        """A new bucket of a name of its own (moto's servers in one process share their buckets)."""
        name = f"clinic-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def url(self, bucket: str) -> str:
        host = self.endpoint.removeprefix("http://")
        return f"s3+http://{KEY}:{SECRET.replace('/', '%2F').replace('+', '%2B')}@{host}/{bucket}?region={REGION}"


def start_s3_server() -> S3Server:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per S3 request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return S3Server(server, f"http://{host}:{port}")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_s3_server()
    yield server
    server.server.stop()


@dataclass
class Bucket:
    name: str
    s3: Any

    def objects(self, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.name, Key=key)["Body"].read()


@pytest.fixture
def bucket(s3_server: S3Server, settings: Any) -> Bucket:
    """A new bucket, and the default storage switched to it as STORAGE_URL would."""
    name = s3_server.make_bucket()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": storage_from_url("STORAGE_URL", s3_server.url(name), fallback_folder="/nonexistent"),
    }
    return Bucket(name, s3_server.client())
