"""Domain records as read from / written to Firestore (no Firestore types here)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field

from core.api_keys import SCOPES, Scope
from core.models import Model


class GenerationStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # by its owner or an admin, while queued or processing; refunded

    @property
    def is_terminal(self) -> bool:
        return self in (
            GenerationStatus.COMPLETED,
            GenerationStatus.FAILED,
            GenerationStatus.CANCELLED,
        )

    @property
    def progress(self) -> float:
        return _PROGRESS[self]


# Charged and not yet settled: holds one of its owner's fair-use slots. A tuple, not a set, so
# that a stored status of any type (a malformed document) can be tested against it.
IN_FLIGHT = (GenerationStatus.QUEUED, GenerationStatus.PROCESSING)
# Settled with a refund of everything the request cost (unless its owner was gone).
REFUNDED = (GenerationStatus.FAILED, GenerationStatus.CANCELLED)
# `settle_problem` of a request settled without an owner document: nothing was refunded.
OWNER_MISSING = "owner_missing"

_PROGRESS = {
    GenerationStatus.PENDING: 0.0,
    GenerationStatus.QUEUED: 10.0,
    GenerationStatus.PROCESSING: 50.0,
    GenerationStatus.COMPLETED: 100.0,
    GenerationStatus.FAILED: 100.0,
    GenerationStatus.CANCELLED: 100.0,
}


# An instant as stored: timezone-aware, held in UTC (Firestore returns UTC; naive is a bug).
UtcDatetime = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]
TransactionType = Literal["deduction", "refund", "grant", "welcome", "purchase", "purchase_refund"]
# The ledger's sign of each type: what an entry does to its owner's balance.
CREDITS_IN: tuple[TransactionType, ...] = ("refund", "grant", "welcome", "purchase")
CREDITS_OUT: tuple[TransactionType, ...] = ("deduction", "purchase_refund")


class _Record(Model):
    model_config = ConfigDict(extra="ignore")

    def document(self) -> dict[str, Any]:
        """The stored form: every field but the id (the document's name), enums as values."""
        return {
            name: value.value if isinstance(value, Enum) else value
            for name, value in self.model_dump(exclude={"id"}).items()
        }


class UserRecord(_Record):
    id: str
    name: str = ""
    email: str = ""
    current_credits: int = 0
    initial_credits: int = 0
    total_images_generated: int = 0
    # Requests queued or processing (the fair-use cap); moved by the money path's transactions.
    in_flight: int = 0
    # Requests with a webhookUrl whose event is not delivered, stopped or given up yet.
    pending_webhooks: int = 0
    is_active: bool = True
    created_at: UtcDatetime | None = None
    # Set by createAccount on the accounts it makes (WELCOME_CREDITS > 0), cleared by the
    # welcome grant: only such accounts ever get welcome credits (seeded users never do).
    welcome_due: bool = False
    # deleteAccount: started (no new request is charged from then on), then done (personal data
    # removed). Either one makes the account answer as missing (404 account_not_found).
    deleting_at: UtcDatetime | None = None
    deleted_at: UtcDatetime | None = None

    @property
    def closed(self) -> bool:
        return self.deleting_at is not None or self.deleted_at is not None

    def document(self) -> dict[str, Any]:
        """Stored without the deletion markers until deleteAccount sets them."""
        stored = super().document()
        return {k: v for k, v in stored.items() if v is not None or k not in _DELETION_MARKERS}


_DELETION_MARKERS = frozenset({"deleting_at", "deleted_at"})


class RequestRecord(_Record):
    """Who asked for what, when, and where it stands: the part of a stored generation request
    the weekly report reads (its projection of GenerationRecord)."""

    id: str
    user_id: str
    model: str
    style: str
    color: str
    size: str
    status: GenerationStatus
    created_at: UtcDatetime


WebhookState = Literal["pending", "delivered", "failed"]
# Who cancelled a request: its owner, an admin, or its Cancel-After deadline.
CancelReason = Literal["user", "admin", "deadline"]


class WebhookDelivery(Model):
    """The delivery of a request's one webhook event (`generation_requests/{id}.webhook`):
    `pending` until a 2xx (`delivered`) or a 410, a refused address or the last attempt
    (`failed`)."""

    model_config = ConfigDict(extra="ignore")

    state: WebhookState
    event_id: str  # the `webhook-id` header of every attempt
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    updated_at: UtcDatetime


class GenerationRecord(RequestRecord):
    """One `generation_requests/{id}` document."""

    prompt: str
    credits_deducted: int
    image_url: str | None = None
    # The stored PNG (`generated/<userId>/<requestId>.png`) and the download token in its URL,
    # minted when a worker first claims the request so every delivery uploads under the same one.
    image_path: str | None = None
    image_token: str | None = None
    error_message: str | None = None
    attempts: int = 0
    updated_at: datetime
    completed_at: datetime | None = None
    # Why the sweeper could not settle it normally (`owner_missing`, or a quarantine reason).
    settle_problem: str | None = None
    # Where the terminal event is POSTed, and its delivery (set by the settling transaction).
    webhook_url: str | None = None
    webhook: WebhookDelivery | None = None
    # deleteGenerationRequest or deleteAccount: its picture and prompt removed, the record and
    # ledger kept.
    deleted: bool = False
    deleted_at: UtcDatetime | None = None
    # Cancel-After: cancelled and refunded if not completed by then (None: no deadline), and
    # who cancelled a cancelled request (set by the settle).
    cancel_at: UtcDatetime | None = None
    cancel_reason: CancelReason | None = None

    def past_deadline(self, now: datetime) -> bool:
        """Still in flight at or after its Cancel-After deadline: to be cancelled now."""
        return self.status in IN_FLIGHT and self.cancel_at is not None and self.cancel_at <= now


# What deleting a request's data writes (besides `deleted_at`): the prompt emptied (clients
# expect a string), the picture's URL, path and download token gone.
DELETED_REQUEST_CHANGES: dict[str, Any] = {
    "deleted": True,
    "prompt": "",
    "image_url": None,
    "image_path": None,
    "image_token": None,
}


class TransactionRecord(_Record):
    """One `users/{uid}/transactions/{txId}` document."""

    id: str
    type: TransactionType
    credits: int
    generation_request_id: str | None = None
    user_id: str
    timestamp: UtcDatetime
    description: str = ""
    # Credits that came in from outside the money path (grant, welcome, purchase) and their
    # take-backs: who or what they came from. Absent on deductions and refunds.
    granted_by: str | None = None  # grant: the admin (`admin_key` or a uid)
    reason: str | None = None  # grant: the operator's words
    pack_id: str | None = None  # purchase, purchase_refund: the credit pack
    amount: int | None = None  # purchase: paid; purchase_refund: refunded (smallest unit)
    currency: str | None = None  # purchase, purchase_refund: ISO 4217, lower case, as Stripe
    session_id: str | None = None  # purchase, purchase_refund: the Checkout Session
    payment_intent: str | None = None  # purchase: Stripe's payment (charge.refunded names it)
    # purchase_refund: credits that could not be taken back because the balance was too low.
    shortfall: int | None = None

    def document(self) -> dict[str, Any]:
        """Stored without the money-in fields it does not use, so deductions and refunds keep
        their original shape."""
        stored = super().document()
        return {k: v for k, v in stored.items() if v is not None or k not in _MONEY_IN_FIELDS}

    @property
    def signed_credits(self) -> int:
        """What this entry did to its owner's balance."""
        return self.credits if self.type in CREDITS_IN else -self.credits


_MONEY_IN_FIELDS = frozenset(TransactionRecord.model_fields) - {
    "id",
    "type",
    "credits",
    "generation_request_id",
    "user_id",
    "timestamp",
    "description",
}


class ApiKeyRecord(_Record):
    """One `api_keys/{sha256 of the key}` document: what is kept of a personal API key (never
    the key itself)."""

    id: str  # the key's SHA-256, hex (core.api_keys.key_hash)
    key_id: str  # public: how its owner lists and revokes it
    user_id: str  # the owner's Firebase Auth uid
    name: str
    prefix: str  # e.g. `fsk_3kT9aQ…`, for the owner to recognise it
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None = None  # written at most once a minute
    revoked_at: UtcDatetime | None = None
    # Which of its owner's slots of active keys it holds (freed when it is revoked or expires).
    slot: int | None = None
    # What it may do; keys stored before scopes existed may do everything.
    scopes: list[Scope] = Field(default_factory=lambda: list(SCOPES))
    expires_at: UtcDatetime | None = None  # None: it never expires
    # The TTL policy deletes the document after this instant: 30 days after it was revoked or
    # expired (firestore.indexes.json); None while it may still be used.
    delete_at: UtcDatetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class SlotLeaseRecord(_Record):
    """One lease on a per-user concurrency slot (`wait_leases/{uid}_{slot}`): held while a call
    waits, deleted when it ends; a lease past `expires_at` is free to take over, and Firestore's
    TTL policy deletes leftovers."""

    id: str  # `{user_id}_{slot}`
    user_id: str
    slot: int
    acquired_at: UtcDatetime
    expires_at: UtcDatetime


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
    hex_examples: list[str] = Field(default_factory=list)
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


class CreditPackRecord(_Record):
    """One `credit_packs/{id}` document: credits sold through Stripe Checkout for `amount` (the
    currency's smallest unit, as Stripe counts it)."""

    id: str
    name: str
    credits: int = Field(gt=0)
    amount: int = Field(gt=0)
    currency: str  # ISO 4217, lower case (as Stripe spells it)
    is_active: bool = True
    sort_order: int = 0


class Catalog(_Record):
    styles: list[StyleRecord]
    colors: list[ColorRecord]
    sizes: list[SizeRecord]
    credit_packs: list[CreditPackRecord] = Field(default_factory=list)


class GenerationOutcome(_Record):
    """How a request ends: its stored image (URL and object path), an error message, or a
    cancellation. Failed and cancelled requests are refunded."""

    image_url: str | None = None
    image_path: str | None = None
    error_message: str | None = None
    cancelled: bool = False
    cancel_reason: CancelReason | None = None  # with `cancelled`

    @property
    def succeeded(self) -> bool:
        return self.image_url is not None

    @property
    def status(self) -> GenerationStatus:
        if self.cancelled:
            return GenerationStatus.CANCELLED
        return GenerationStatus.COMPLETED if self.succeeded else GenerationStatus.FAILED


class GrantRecord(_Record):
    """grants/{grantId}: the terms an operator's grant was made on, claimed in the transaction
    that books it, so a grantId is used once across all users."""

    id: str  # the caller's grantId
    user_id: str
    credits: int
    reason: str
    granted_by: str
    created_at: UtcDatetime

    def same_terms(self, other: GrantRecord) -> bool:
        """Whether `other` asks for this very grant (a retry), whoever sends it and when."""
        return (self.user_id, self.credits, self.reason) == (
            other.user_id,
            other.credits,
            other.reason,
        )
