"""Emulator workaround: Cloud Storage served by the `gcp-storage-emulator` package.

The Firebase Storage emulator cannot start offline (firebase-tools downloads its rules runtime on
first use), so scripts/stack/emulators.py runs gcp-storage-emulator at STORAGE_EMULATOR_HOST.
firebase-admin's storage client insists on Google credentials, so the client here is anonymous,
and downloads are served at `<host>/download/storage/v1/b/<bucket>/o/<name>?alt=media`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from core.firestore_client import project_id
from core.image_storage import CloudStorageImages, default_bucket_name

if TYPE_CHECKING:
    from google.cloud.storage import Bucket

DEFAULT_HOST = "http://127.0.0.1:9199"


def emulator_host() -> str:
    return os.environ.get("STORAGE_EMULATOR_HOST") or DEFAULT_HOST


def emulator_bucket(host: str, name: str) -> Bucket:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.storage import Client

    client = Client(
        project=project_id(),
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": host},
    )
    return client.bucket(name)


def emulator_images() -> CloudStorageImages:
    """The project's default bucket, which scripts/stack/emulators.py creates."""
    host = emulator_host()
    return CloudStorageImages(
        lambda: emulator_bucket(host, default_bucket_name()),
        download_base=f"{host}/download/storage/v1",
    )
