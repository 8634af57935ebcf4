"""Values the repositories take and return besides documents, shared with the services (which
see the repositories only through services/ports.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.documents import GenerationRecord, GrantRecord, TransactionRecord, UserRecord


@dataclass(frozen=True)
class ApiKeyLimits:
    """How many keys one user may hold active, and create per `window`."""

    max_active: int
    max_created: int
    window: timedelta


@dataclass(frozen=True)
class Booked:
    """What booking a credit entry did (repositories/credits.py)."""

    entry: TransactionRecord  # as stored: this call's, or the one an earlier call booked
    created: bool  # False: the entry existed and nothing changed
    balance: int  # the owner's balance after this call


@dataclass(frozen=True)
class OpenedAccount:
    """What createAccount found or made (repositories/accounts.py)."""

    user: UserRecord  # as stored after this call
    created: bool  # this call made `users/{uid}`
    welcome_granted: bool  # the account holds its welcome entry (this call's or an earlier one)


@dataclass(frozen=True)
class GrantBooking:
    """What booking an operator's grant did (repositories/credits.py)."""

    grant: GrantRecord  # as stored: this call's terms, or those the grantId was first used with
    created: bool  # False: the grantId was used before and nothing changed
    balance: int  # the balance of the stored grant's user after this call


# Set on a request that can never be settled normally; the sweeper does not look at it again.
QUARANTINED = "quarantined"


class MalformedRecord(Exception):
    """A stored generation request does not validate: it cannot be settled automatically."""


@dataclass(frozen=True)
class IdempotencyClaim:
    """What a create with an Idempotency-Key claims: the key, its request, its first answer."""

    doc_id: str
    key: str
    request_hash: str
    accepted: dict[str, Any]  # the 202 body this request answers if all goes well

    @classmethod
    def for_request(
        cls, user_id: str, key: str, request: Mapping[str, Any], accepted: dict[str, Any]
    ) -> IdempotencyClaim:
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
        return cls(
            doc_id=hashlib.sha256(f"{user_id}\x00{key}".encode()).hexdigest(),
            key=key,
            request_hash=hashlib.sha256(canonical.encode()).hexdigest(),
            accepted=accepted,
        )


@dataclass(frozen=True)
class Replay:
    """A stored answer for a repeated Idempotency-Key."""

    status_code: int
    response: dict[str, Any]


@dataclass(frozen=True)
class StuckCandidate:
    """A request the sweeper may have to settle, as far as the query can tell."""

    id: str
    status: str
    updated_at: datetime | None


@dataclass(frozen=True)
class StaleDelivery:
    """A pending delivery whose record has not changed since a cutoff."""

    id: str
    attempts: int
    updated_at: datetime


@dataclass(frozen=True)
class SeededUser:
    """What one user's reseed wrote."""

    requests: int
    transactions: int
    kept_transactions: int  # the user's own (unmarked) transactions, left as they were


@dataclass(frozen=True)
class SlotLease:
    """A held per-user concurrency slot; `version` is the lease's write time, so that giving it
    back never deletes a lease that another holder took over since."""

    owner: str
    slot: int
    version: datetime


@dataclass(frozen=True)
class StoredImage:
    """A PNG stored for a request: its download URL, object path and the token in the URL."""

    url: str
    path: str
    token: str


@dataclass(frozen=True)
class StoredRequest:
    """One of a user's requests as deleteAccount and exportAccountData walk them
    (repositories/account_data.py)."""

    id: str
    record: GenerationRecord | None  # None: the stored document does not validate
    image_path: str | None  # where its picture was stored, if anywhere yet
    webhook_pending: bool  # its webhook event is still due
    scrubbed: bool  # an earlier deleteAccount run removed its personal data
