"""Domain records as read from / written to Firestore (no Firestore types here)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class GenerationStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (GenerationStatus.COMPLETED, GenerationStatus.FAILED)

    @property
    def progress(self) -> float:
        return _PROGRESS[self]


_PROGRESS = {
    GenerationStatus.PENDING: 0.0,
    GenerationStatus.QUEUED: 10.0,
    GenerationStatus.PROCESSING: 50.0,
    GenerationStatus.COMPLETED: 100.0,
    GenerationStatus.FAILED: 100.0,
}


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserRecord(_Record):
    id: str
    name: str = ""
    email: str = ""
    current_credits: int = 0
    initial_credits: int = 0
    total_images_generated: int = 0
    is_active: bool = True
    created_at: datetime | None = None


class GenerationRecord(_Record):
    id: str
    user_id: str
    model: str
    style: str
    color: str
    size: str
    prompt: str
    status: GenerationStatus
    credits_deducted: int
    image_url: str | None = None
    error_message: str | None = None
    attempts: int = 0
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None


class TransactionRecord(_Record):
    id: str
    type: str
    credits: int
    generation_request_id: str | None = None
    user_id: str
    timestamp: datetime
    description: str = ""


class StyleRecord(_Record):
    id: str
    display_name: str
    description: str = ""
    is_active: bool = True
    sort_order: int = 0


class ColorRecord(_Record):
    id: str
    display_name: str
    description: str = ""
    hex_examples: list[str] = []
    is_active: bool = True
    sort_order: int = 0


class SizeRecord(_Record):
    id: str
    width: int
    height: int
    aspect_ratio: str
    display_name: str
    description: str = ""
    credit_cost: int
    is_active: bool = True
    sort_order: int = 0


class Catalog(_Record):
    styles: list[StyleRecord]
    colors: list[ColorRecord]
    sizes: list[SizeRecord]


class GenerationOutcome(_Record):
    """What the model simulator produced: exactly one of image_url / error_message."""

    image_url: str | None = None
    error_message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.image_url is not None
