"""createAccount without a database: the service's rules over an in-memory store, the
controller's answers, and account_not_found for a signed-in caller without an account."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from controllers.account_controller import AccountController
from controllers.auth import AdminGuard, TokenRejected, UserAuthorizer
from controllers.http import endpoint
from core.errors import NotFoundError
from schemas.documents import UserRecord
from schemas.ledger import welcome_id
from services.accounts import AccountService, SignedInUser, account_missing
from tests.support.fakes import FakeAccountStore, ManualClock
from tests.support.http import _APP, make_request

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def caller(verified: bool, uid: str = "u1", **fields: Any) -> SignedInUser:
    values = {"email": "ada.l@example.com", "name": "", "email_verified": verified} | fields
    return SignedInUser(uid=uid, **values)


def service(store: FakeAccountStore, welcome: int = 10) -> AccountService:
    return AccountService(store, ManualClock(NOW), welcome_credits=welcome)


def test_an_unverified_caller_gets_the_account_without_credits_then_the_grant_once_verified():
    store = FakeAccountStore()
    accounts = service(store)
    first = accounts.open(caller(verified=False))
    assert first.created and first.user.current_credits == 0
    assert (first.welcome_granted, first.welcome_pending) == (False, True)
    assert first.user.initial_credits == 0 and first.user.created_at == NOW
    assert store.entries == {}
    again = accounts.open(caller(verified=False))
    assert not again.created and again.welcome_pending and store.entries == {}
    verified = accounts.open(caller(verified=True))
    assert not verified.created and verified.user.current_credits == 10
    assert (verified.welcome_granted, verified.welcome_pending) == (True, False)
    entry = store.entries["u1"]
    assert (entry.id, entry.type, entry.credits) == (welcome_id("u1"), "welcome", 10)
    assert entry.description == "Welcome credits"
    repeat = accounts.open(caller(verified=True))
    assert repeat.user.current_credits == 10 and repeat.welcome_granted
    assert len(store.entries) == 1


def test_a_verified_caller_is_credited_on_the_first_call():
    store = FakeAccountStore()
    opened = service(store).open(caller(verified=True))
    assert opened.created and opened.welcome_granted and opened.user.current_credits == 10
    assert not opened.user.welcome_due


def test_the_name_falls_back_to_the_local_part_of_the_email():
    store = FakeAccountStore()
    service(store).open(caller(False, uid="a"))
    service(store).open(caller(False, uid="b", name="  Ada Lovelace "))
    service(store).open(caller(False, uid="c", email=""))
    assert store.users["a"].name == "ada.l" and store.users["a"].email == "ada.l@example.com"
    assert store.users["b"].name == "Ada Lovelace"
    assert store.users["c"].name == "c"


def test_an_existing_account_is_answered_as_it_is_and_never_welcomed():
    """A seeded user (made without createAccount: not welcome_due) keeps its balance."""
    seeded = UserRecord(id="arda", name="Arda", current_credits=500, initial_credits=500)
    store = FakeAccountStore([seeded])
    opened = service(store).open(caller(verified=True, uid="arda"))
    assert not opened.created and opened.user == seeded
    assert (opened.welcome_granted, opened.welcome_pending) == (False, False)
    assert store.entries == {}


@pytest.mark.parametrize("verified", [False, True])
def test_zero_welcome_credits_disables_the_grant(verified):
    store = FakeAccountStore()
    opened = service(store, welcome=0).open(caller(verified=verified))
    assert opened.created and opened.user.current_credits == 0
    assert not opened.user.welcome_due and not opened.welcome_pending
    assert store.entries == {}
    # raised later, it still does not reach accounts made while it was 0
    assert service(store, welcome=10).open(caller(verified=True)).user.current_credits == 0


def test_the_missing_account_message_names_create_account():
    missing = account_missing("u9")
    assert (missing.status, missing.error) == (404, "account_not_found")
    assert "createAccount" in missing.message


# --- the controller ----------------------------------------------------------------------------
TOKENS = {
    "token-new": {"uid": "new1", "email": "new1@example.com", "email_verified": False},
    "token-new-verified": {
        "uid": "new1",
        "email": "new1@example.com",
        "email_verified": True,
        "name": "New One",
    },
    "token-ghost": {"uid": "ghost", "email": "ghost@example.com"},
}


def verify(token: str) -> dict[str, Any]:
    if token not in TOKENS:
        raise TokenRejected("InvalidIdTokenError")
    return TOKENS[token]


class Users:
    """UserStore over the fake account store."""

    def __init__(self, store: FakeAccountStore) -> None:
        self._store = store

    def get(self, user_id: str) -> UserRecord | None:
        return self._store.users.get(user_id)

    def list_all(self) -> list[UserRecord]:
        return list(self._store.users.values())

    def transactions_page(self, user_id: str, limit: int, cursor: str | None) -> Any:
        return [], None


def controller(store: FakeAccountStore, required: bool = False) -> AccountController:
    return AccountController(
        Users(store), UserAuthorizer(required, verify), AdminGuard("k" * 32), service(store)
    )


def answer(handler: Any, method: str = "POST", **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """Through the HTTP boundary that maps typed errors to the envelope."""
    with _APP.app_context():
        response = endpoint(["GET", "POST"])(handler)(make_request(method, **kwargs))
    return response.status_code, json.loads(response.get_data())


def test_create_account_answers_201_then_200_with_the_same_shape():
    store = FakeAccountStore()
    ctl = controller(store)
    status, body = answer(ctl.create_account, headers={"Authorization": "Bearer token-new"})
    assert status == 201
    assert body == {
        "success": True,
        "userId": "new1",
        "currentCredits": 0,
        "welcomeGranted": False,
        "welcomePending": True,
    }
    headers = {"Authorization": "Bearer token-new-verified"}
    status, body = answer(ctl.create_account, headers=headers)
    assert (status, body["currentCredits"], body["welcomeGranted"]) == (200, 10, True)
    assert store.users["new1"].name == "new1"  # made from the first token
    assert answer(ctl.create_account, headers=headers) == (status, body)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, (401, "missing_token")),
        ({"Authorization": "Bearer not-a-token"}, (401, "invalid_token")),
        ({"Authorization": "Bearer fsk_" + "a" * 36}, (403, "id_token_required")),
    ],
)
@pytest.mark.parametrize("required", [False, True])
def test_create_account_needs_an_id_token_in_every_mode(headers, expected, required):
    store = FakeAccountStore()
    status, body = answer(controller(store, required).create_account, headers=headers)
    assert (status, body["error"]) == expected, body
    assert store.users == {}


@pytest.mark.parametrize("data", [b"{not json", b'{"userId": "arda"}', b"[]"])
def test_a_bad_body_is_refused_before_anything_is_made(data):
    """createAccount takes no options: anything but no body or `{}` is a 400."""
    store = FakeAccountStore()
    status, body = answer(
        controller(store).create_account,
        headers={"Authorization": "Bearer token-new"},
        data=data,
        content_type="application/json",
    )
    assert status == 400, body
    assert store.users == {}


def test_an_empty_object_is_no_options():
    status, body = answer(
        controller(FakeAccountStore()).create_account,
        headers={"Authorization": "Bearer token-new"},
        data=b"{}",
        content_type="application/json",
    )
    assert status == 201, body


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("name", ["credits", "validate_user"])
def test_a_signed_in_caller_without_an_account_is_told_to_create_it(name, method):
    ctl = controller(FakeAccountStore())
    kwargs: dict[str, Any] = (
        {"query": {"userId": "ghost"}} if method == "GET" else {"json_body": {"userId": "ghost"}}
    )
    status, body = answer(
        getattr(ctl, name), method, headers={"Authorization": "Bearer token-ghost"}, **kwargs
    )
    assert (status, body["error"]) == (404, "account_not_found"), body
    assert "createAccount" in body["message"]
    # anonymous (the open mode): the original answer for an unknown user
    status, body = answer(getattr(ctl, name), method, **kwargs)
    assert (status, body["error"]) == (404, "user_not_found"), body
    if name == "validate_user":
        assert body["exists"] is False


def test_account_missing_is_a_not_found_error():
    assert isinstance(account_missing("x"), NotFoundError)


# --- the generation functions ----------------------------------------------------------------
def generation_handlers(uid: str | None) -> dict[str, Any]:
    """The generation controller over fakes: `arda` has an account, `ghost` none; `uid`: every
    call presents that user's token (None: anonymous, the open mode)."""
    from controllers.generation_controller import GenerationController
    from tests.support.fakes import FakeAccounts, FakeSlots
    from tests.unit.test_generation_service import build
    from tests.unit.test_wait_slots import slots_of

    service, _, _ = build()
    auth = UserAuthorizer(False, lambda token: {"uid": uid})
    ctl = GenerationController(
        service,
        auth,
        AdminGuard("k" * 32),
        waits=slots_of(FakeSlots()),
        accounts=FakeAccounts({"arda"}),
    )
    return {
        "create": ctl.create,
        "status": ctl.status,
        "cancel": ctl.cancel,
        "list": ctl.list_for_user,
    }


GENERATION_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "create": (
        "POST",
        {
            "json_body": {
                "userId": "ghost",
                "model": "Model B",
                "style": "anime",
                "color": "neon",
                "size": "1024x1792",
                "prompt": "p",
            }
        },
    ),
    "status": ("GET", {"query": {"generationRequestId": "00000000-0000-4000-8000-000000000000"}}),
    "cancel": (
        "POST",
        {"json_body": {"generationRequestId": "00000000-0000-4000-8000-000000000000"}},
    ),
    "list": ("GET", {"query": {"userId": "ghost"}}),
}


@pytest.mark.parametrize("name", list(GENERATION_CALLS))
def test_generation_functions_tell_a_signed_in_caller_without_an_account_to_create_it(name):
    method, kwargs = GENERATION_CALLS[name]
    token = {"Authorization": "Bearer token"}
    status, body = answer(generation_handlers("ghost")[name], method, headers=token, **kwargs)
    assert (status, body["error"]) == (404, "account_not_found"), body
    assert "createAccount" in body["message"]
    # a caller with an account gets the usual answers
    status, body = answer(generation_handlers("arda")[name], method, headers=token, **kwargs)
    assert body.get("error") != "account_not_found", body


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("create", (404, "user_not_found")),
        ("status", (404, "generation_not_found")),
        ("cancel", (404, "generation_not_found")),
        ("list", (200, None)),
    ],
)
def test_anonymous_callers_keep_the_original_answers(name, expected):
    method, kwargs = GENERATION_CALLS[name]
    status, body = answer(generation_handlers(None)[name], method, **kwargs)
    assert (status, body.get("error")) == expected, body
