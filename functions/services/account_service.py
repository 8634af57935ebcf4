"""Users, balances and credit history (read side)."""

from __future__ import annotations

from core.errors import NotFoundError
from repositories.users import UserRepository
from schemas.documents import TransactionRecord, UserRecord


class AccountService:
    def __init__(self, users: UserRepository) -> None:
        self._users = users

    def get_user(self, user_id: str) -> UserRecord:
        user = self._users.get(user_id)
        if user is None:
            raise NotFoundError(f"User not found: {user_id}", error="user_not_found")
        return user

    def credits(
        self, user_id: str, limit: int, cursor: str | None
    ) -> tuple[UserRecord, list[TransactionRecord], str | None]:
        user = self.get_user(user_id)
        page, next_cursor = self._users.transactions_page(user_id, limit, cursor)
        return user, page, next_cursor

    def list_users(self) -> list[UserRecord]:
        return self._users.list_all()
