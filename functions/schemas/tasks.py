"""Task payloads as Cloud Tasks delivers them to the worker and the webhook deliverer: a module
of its own, so that those functions load no request schemas."""

from __future__ import annotations

from pydantic import ConfigDict

from core.models import Model
from schemas.ids import DocumentId


class WorkerTask(Model):
    """The task payload: only the request id; everything else is read from Firestore."""

    model_config = ConfigDict(extra="ignore")

    generationRequestId: DocumentId
