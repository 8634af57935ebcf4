"""Values the repositories take and return besides documents, shared with the services (which
see the repositories only through services/ports.py).

NamedTuples rather than frozen dataclasses: every function loads this module, and a dataclass
takes about 1 ms to define (its methods are generated and compiled), a NamedTuple a quarter of
that (docs/performance.md, "Cold imports")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from schemas.documents import GenerationRecord, GrantRecord, TransactionRecord, UserRecord


class ApiKeyLimits(NamedTuple):
    """How many keys one user may hold active, and create per `window`."""

    max_active: int
    max_created: int
    window: timedelta


class Booked(NamedTuple):
    """What booking a credit entry did (repositories/credits.py)."""

    entry: TransactionRecord  # as stored: this call's, or the one an earlier call booked
    created: bool  # False: the entry existed and nothing changed
    balance: int  # the owner's balance after this call


class OpenedAccount(NamedTuple):
    """What createAccount found or made (repositories/accounts.py)."""

    user: UserRecord  # as stored after this call
    created: bool  # this call made `users/{uid}`
    welcome_granted: bool  # the account holds its welcome entry (this call's or an earlier one)


class GrantBooking(NamedTuple):
    """What booking an operator's grant did (repositories/credits.py)."""

    grant: GrantRecord  # as stored: this call's terms, or those the grantId was first used with
    created: bool  # False: the grantId was used before and nothing changed
    balance: int  # the balance of the stored grant's user after this call


# Set on a request that can never be settled normally; the sweeper does not look at it again.
QUARANTINED = "quarantined"


class MalformedRecord(Exception):
    """A stored generation request does not validate: it cannot be settled automatically."""


class IdempotencyClaim(NamedTuple):
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


class Replay(NamedTuple):
    """A stored answer for a repeated Idempotency-Key."""

    status_code: int
    response: dict[str, Any]


class StuckCandidate(NamedTuple):
    """A request the sweeper may have to settle, as far as the query can tell."""

    id: str
    status: str
    updated_at: datetime | None


class StaleDelivery(NamedTuple):
    """A pending delivery whose record has not changed since a cutoff."""

    id: str
    attempts: int
    updated_at: datetime


class SeededUser(NamedTuple):
    """What one user's reseed wrote."""

    requests: int
    transactions: int
    kept_transactions: int  # the user's own (unmarked) transactions, left as they were


class SlotLease(NamedTuple):
    """A held per-user concurrency slot; `version` is the lease's write time, so that giving it
    back never deletes a lease that another holder took over since."""

    owner: str
    slot: int
    version: datetime


class StoredImage(NamedTuple):
    """A PNG stored for a request: its download URL, object path and the token in the URL."""

    url: str
    path: str
    token: str


class StoredRequest(NamedTuple):
    """One of a user's requests as deleteAccount and exportAccountData walk them
    (repositories/account_data.py)."""

    id: str
    record: GenerationRecord | None  # None: the stored document does not validate
    image_path: str | None  # where its picture was stored, if anywhere yet
    webhook_pending: bool  # its webhook event is still due
    scrubbed: bool  # an earlier deleteAccount run removed its personal data
