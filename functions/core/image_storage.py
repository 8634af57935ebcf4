"""Generated images in Cloud Storage: upload a PNG and answer its Firebase download URL.

As Firebase's `getDownloadURL()`: a token in the object's metadata lets anyone holding the URL
read that one object, until the token is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import quote

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry

from core.firestore_client import project_id
from core.logging import warn

if TYPE_CHECKING:
    from firebase_admin import App
    from google.cloud.storage import Bucket

FIREBASE_DOWNLOAD_BASE = "https://firebasestorage.googleapis.com/v0"
TOKEN_METADATA = "firebaseStorageDownloadTokens"
UPLOAD_TIMEOUT_SECONDS = 30
# Re-uploading the same bytes under the same name and token is harmless, so uploads are retried.
UPLOAD_RETRY = Retry(initial=0.5, maximum=4.0, multiplier=2.0, timeout=UPLOAD_TIMEOUT_SECONDS)


def default_bucket_name() -> str:
    """The project's default Firebase bucket."""
    return f"{project_id()}.appspot.com"


def download_url(base: str, bucket: str, path: str, token: str) -> str:
    return f"{base}/b/{bucket}/o/{quote(path, safe='')}?alt=media&token={token}"


def firebase_bucket(app: App, name: str) -> Bucket:
    """A bucket through firebase-admin (the app's credentials)."""
    from firebase_admin import storage as firebase_storage  # imported on first upload only

    return firebase_storage.bucket(name, app=app)


class CloudStorageImages:
    """Opens its bucket on the first upload: the storage client costs every function's cold
    start an import otherwise, and only the worker uploads."""

    def __init__(
        self,
        open_bucket: Callable[[], Bucket],
        download_base: str = FIREBASE_DOWNLOAD_BASE,
    ) -> None:
        self._open_bucket = open_bucket
        self._download_base = download_base

    @cached_property
    def _bucket(self) -> Bucket:
        return self._open_bucket()

    def save(self, path: str, png: bytes, token: str) -> str:
        """Upload `png` to `path` readable through `token`; the download URL."""
        blob = self._bucket.blob(path)
        blob.metadata = {TOKEN_METADATA: token}
        blob.cache_control = "private, max-age=31536000, immutable"
        blob.upload_from_string(
            png, content_type="image/png", timeout=UPLOAD_TIMEOUT_SECONDS, retry=UPLOAD_RETRY
        )
        return download_url(self._download_base, self._bucket.name, path, token)

    def delete(self, path: str) -> None:
        try:
            self._bucket.blob(path).delete(timeout=UPLOAD_TIMEOUT_SECONDS)
        except gexc.NotFound:
            pass  # nothing left to remove
        except Exception as exc:
            warn("image not deleted", path=path, error=type(exc).__name__)

    def remove(self, path: str) -> bool:
        """Delete the object: True when it existed, False when there was none; any other
        failure raises (deleteAccount stops, and its repeat tries again)."""
        try:
            self._bucket.blob(path).delete(timeout=UPLOAD_TIMEOUT_SECONDS)
        except gexc.NotFound:
            return False
        return True
