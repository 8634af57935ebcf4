"""What needs an account: functions that attach something to `users/{uid}` refuse without it."""

from __future__ import annotations

from core.errors import NotFoundError
from services.ports import AccountReader


def require_account(accounts: AccountReader, user_id: str) -> None:
    """404 `account_not_found` unless `users/{user_id}` exists."""
    if accounts.get(user_id) is None:
        raise NotFoundError(
            f"No account for uid {user_id}: the document users/{user_id} does not exist",
            error="account_not_found",
        )
