"""Accounts: createAccount makes `users/{uid}` for a signed-in user and books its welcome credits
once the e-mail is verified; functions that need an account refuse without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from core.errors import NotFoundError
from schemas import ledger
from schemas.documents import UserRecord

if TYPE_CHECKING:
    from core.clock import Clock
    from services.ports import AccountReader, AccountStore


def account_missing(user_id: str) -> NotFoundError:
    """404 `account_not_found`: a signed-in user who has not called createAccount yet."""
    return NotFoundError(
        f"No account for uid {user_id} (users/{user_id} does not exist): create it first "
        "with createAccount (POST, with your Firebase ID token)",
        error="account_not_found",
    )


def require_account(accounts: AccountReader, user_id: str) -> None:
    """404 `account_not_found` unless `users/{user_id}` exists."""
    if accounts.get(user_id) is None:
        raise account_missing(user_id)


class SignedInUser(NamedTuple):
    """What createAccount takes from the caller's ID token."""

    uid: str
    email: str
    name: str
    email_verified: bool


class AccountResult(NamedTuple):
    user: UserRecord
    created: bool
    welcome_granted: bool  # the account holds its welcome credits
    welcome_pending: bool  # they are due and wait for a verified e-mail


class AccountService:
    """Only accounts made here are due welcome credits (`welcome_due`); an existing document
    (a seeded user, say) is answered as it is."""

    def __init__(self, store: AccountStore, clock: Clock, welcome_credits: int) -> None:
        self._store = store
        self._clock = clock
        self._welcome_credits = welcome_credits

    def open(self, caller: SignedInUser) -> AccountResult:
        now = self._clock.now()
        email = caller.email.strip()
        new_user = UserRecord(
            id=caller.uid,
            name=caller.name.strip() or email.partition("@")[0] or caller.uid,
            email=email,
            created_at=now,
            welcome_due=self._welcome_credits > 0,
        )
        welcome = None
        if caller.email_verified and self._welcome_credits > 0:
            welcome = ledger.welcome(caller.uid, self._welcome_credits, now)
        opened = self._store.open(new_user, welcome)
        if opened.user.closed:  # deleteAccount ran: the uid has no account any more
            raise NotFoundError(
                f"No account for uid {caller.uid}: it was deleted (deleteAccount)",
                error="account_not_found",
            )
        pending = opened.user.welcome_due and not opened.welcome_granted
        return AccountResult(
            opened.user,
            created=opened.created,
            welcome_granted=opened.welcome_granted,
            welcome_pending=pending and self._welcome_credits > 0,
        )
