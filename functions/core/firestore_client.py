"""Build the Firestore client (anonymous credentials on the emulator)."""

from __future__ import annotations

import os

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

DEFAULT_PROJECT = "feraset-imagen"


def project_id() -> str:
    return (
        os.environ.get("GCLOUD_PROJECT")
        or os.environ.get("GOOGLE_CLOUD_PROJECT")
        or DEFAULT_PROJECT
    )


def build_firestore_client() -> firestore.Client:
    """`firebase_admin.firestore.client()` insists on Google credentials even on the emulator."""
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        return firestore.Client(project=project_id(), credentials=AnonymousCredentials())
    return firestore.Client(project=project_id())
