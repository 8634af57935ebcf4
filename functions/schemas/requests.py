"""Request bodies and query parameters (pydantic v2)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from core.api_keys import SCOPES, Scope
from core.config import ModelName
from core.models import Model
from core.webhook_urls import (
    MAX_URL_LENGTH,
    PRODUCTION,
    UrlPolicy,
    WebhookUrlRefused,
    parse_webhook_url,
)
from schemas.ids import DocumentId, UserId

CatalogId = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9 _-]+$")
]


# The validation context key (controllers.http.validate) holding the webhook URL policy.
WEBHOOK_POLICY = "webhook_policy"
WebhookUrl = Annotated[str, StringConstraints(strict=True, max_length=MAX_URL_LENGTH)]


def normalise_catalog_id(value: str) -> str:
    """'Oil Painting' -> 'oil_painting': the display spelling is accepted, the id is stored."""
    return "_".join(value.strip().lower().split())


class CreateGenerationRequest(Model):
    model_config = ConfigDict(extra="ignore")

    userId: UserId
    model: ModelName
    style: CatalogId
    color: CatalogId
    size: CatalogId
    prompt: Annotated[
        str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=1000)
    ]
    # Checked against the validation context's WEBHOOK_POLICY (production's when absent).
    webhookUrl: WebhookUrl | None = None

    @field_validator("style", "color", "size")
    @classmethod
    def _normalise(cls, value: str) -> str:
        normalised = normalise_catalog_id(value)
        if not normalised:
            raise ValueError("Must not be blank")
        return normalised

    @field_validator("webhookUrl")
    @classmethod
    def _webhook_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        context = info.context if isinstance(info.context, dict) else {}
        policy = context.get(WEBHOOK_POLICY)
        try:
            parse_webhook_url(value, policy if isinstance(policy, UrlPolicy) else PRODUCTION)
        except WebhookUrlRefused as refused:
            raise PydanticCustomError(
                "webhook_url", "webhookUrl {reason}", {"reason": str(refused)}
            ) from None
        return value


class UserIdQuery(Model):
    model_config = ConfigDict(extra="ignore")

    userId: UserId


class CreditsQuery(UserIdQuery):
    limit: int = Field(50, ge=1, le=200)
    cursor: DocumentId | None = None


class StatusQuery(Model):
    model_config = ConfigDict(extra="ignore")

    generationRequestId: DocumentId


class CancelRequest(Model):
    model_config = ConfigDict(extra="forbid")

    generationRequestId: DocumentId


class DeleteGenerationRequest(CancelRequest):
    """deleteGenerationRequest's body: the same one field as a cancel."""


def _distinct(values: list[Scope]) -> list[Scope]:
    if len(set(values)) != len(values):
        raise PydanticCustomError("duplicate_scope", "each scope may be named only once")
    return values


class CreateApiKeyRequest(Model):
    model_config = ConfigDict(extra="forbid")

    # What the owner calls the key (shown in listings); no control characters.
    name: Annotated[
        str,
        StringConstraints(
            strict=True,
            strip_whitespace=True,
            min_length=1,
            max_length=100,
            pattern=r"^[^\x00-\x1f\x7f]+$",
        ),
    ]
    # What the key may do: a non-empty subset of SCOPES, each at most once; default all.
    scopes: Annotated[
        list[Scope],
        Field(strict=True, min_length=1, max_length=len(SCOPES)),
        AfterValidator(_distinct),
    ] = Field(default_factory=lambda: list(SCOPES))
    # Days until the key stops working; None: it never expires.
    expiresInDays: Annotated[int, Field(strict=True, ge=1, le=365)] | None = None


class RevokeApiKeyRequest(Model):
    model_config = ConfigDict(extra="forbid")

    keyId: Annotated[
        str,
        StringConstraints(
            strict=True, strip_whitespace=True, max_length=100, pattern=r"^key_[0-9A-Za-z]+$"
        ),
    ]


class NoOptions(Model):
    """The body of a function that takes no options (createAccount, deleteAccount,
    exportAccountData): empty or `{}`; any field is refused."""

    model_config = ConfigDict(extra="forbid")


class CheckoutRequest(Model):
    model_config = ConfigDict(extra="forbid")

    packId: CatalogId


class UserRequestsQuery(UserIdQuery):
    limit: int = Field(20, ge=1, le=100)
