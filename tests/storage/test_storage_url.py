"""STORAGE_URL: what each form means, and a clear start-up error for a bad one
that never repeats the secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.env import storage_from_url
from tests.storage.conftest import S3Server

ROOT = Path(__file__).resolve().parents[2]


def options(url: str | None) -> dict:
    entry = storage_from_url("STORAGE_URL", url, fallback_folder="/srv/clinic/media")
    return {"BACKEND": entry["BACKEND"], **entry["OPTIONS"]}


def test_unset_is_the_local_folder_as_before() -> None:
    assert options(None) == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "location": "/srv/clinic/media",
    }


def test_a_file_url_is_another_local_folder() -> None:
    assert options("file:///mnt/photos%20share")["location"] == "/mnt/photos share"
    assert options("file://localhost/mnt/photos")["location"] == "/mnt/photos"


def test_an_s3_compatible_server_over_https_with_percent_decoded_credentials() -> None:
    found = options("s3://AKIA123:wJal%2FrXU%2Bq%40@minio.internal:9000/clinic-media?region=ap-east-1")
    assert found["BACKEND"] == "storages.backends.s3.S3Storage"
    assert found["endpoint_url"] == "https://minio.internal:9000"
    assert found["bucket_name"] == "clinic-media"
    assert found["location"] == ""
    assert found["region_name"] == "ap-east-1"
    assert (found["access_key"], found["secret_key"]) == ("AKIA123", "wJal/rXU+q@")
    assert found["addressing_style"] == "path"
    # Private, never overwritten, signed URLs short-lived.
    assert found["default_acl"] is None
    assert found["querystring_auth"] is True
    assert found["file_overwrite"] is False
    assert 0 < found["querystring_expire"] <= 900
    assert found["client_config"].connect_timeout <= 5


def test_plain_http_for_a_local_server_and_a_prefix_inside_the_bucket() -> None:
    found = options("s3+http://key:secret@127.0.0.1:9000/clinic/staging/")
    assert found["endpoint_url"] == "http://127.0.0.1:9000"
    assert (found["bucket_name"], found["location"]) == ("clinic", "staging")
    assert found["region_name"] == "us-east-1"  # custom servers accept any; boto3 needs one


def test_amazon_s3_with_the_usual_aws_credentials() -> None:
    found = options("s3:///clinic-media?region=ap-east-1")
    assert found["bucket_name"] == "clinic-media"
    assert found["region_name"] == "ap-east-1"
    for absent in ("endpoint_url", "access_key", "secret_key", "addressing_style"):
        assert absent not in found  # boto3's own chain: environment, profile, instance role


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/bucket", "must start with file://, s3:// or s3+http://"),
        ("file://relative/folder", "absolute folder"),
        ("s3://key:Sh0wMe@host", "must name a bucket"),
        ("s3://key:Sh0wMe@host/Not_A_Bucket", "must name a bucket"),
        ("s3://key:Sh0wMe@host/ab", "must name a bucket"),
        ("s3://key@host/bucket", "both an access key and a secret"),
        ("s3://:Sh0wMe@host/bucket", "both an access key and a secret"),
        ("s3://key:Sh0wMe@host:99999/bucket", "invalid port"),
        ("s3://key:Sh0wMe@host/bucket?regoin=x", "unknown option 'regoin'"),
        ("s3+http:///bucket", "s3+http:// needs a host"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as error:
        options(url)
    assert "STORAGE_URL" in str(error.value)
    assert message in str(error.value)
    assert "Sh0wMe" not in str(error.value)  # the secret is never repeated


def test_the_site_reads_storage_url_at_start_up(s3_server: S3Server) -> None:
    """The variable as an operator sets it, in a new process: files go to the bucket."""
    bucket = s3_server.make_bucket()
    script = (
        "import django; django.setup()\n"
        "from django.core.files.base import ContentFile\n"
        "from django.core.files.storage import default_storage\n"
        "print(default_storage.save('probe/hello.txt', ContentFile(b'hello')))\n"
    )
    url = s3_server.url(bucket).replace(f"/{bucket}?", f"/{bucket}/site-a?")  # a prefix inside the bucket
    environment = {**os.environ, "DEBUG": "1", "STORAGE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "probe/hello.txt"
    stored = s3_server.client().get_object(Bucket=bucket, Key="site-a/probe/hello.txt")["Body"].read()
    assert stored == b"hello"
