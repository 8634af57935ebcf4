"""The HTTP functions main.py must export (the clients' contract), shared by several tests."""

from __future__ import annotations

HTTP_FUNCTIONS = frozenset(
    {
        "createGenerationRequest",
        "cancelGenerationRequest",
        "deleteGenerationRequest",
        "getGenerationStatus",
        "listGenerationRequests",
        "getUserCredits",
        "validate_user",
        "listUsers",
        "getCatalog",
        "health",
        "seed_database",
        "scheduleWeeklyReport",
        "scheduleDailyRollup",
        "listReports",
        "getReport",
        "sweepStuckGenerations",
        "getWebhookSecret",
        "rotateWebhookSecret",
        "createApiKey",
        "createAccount",
        "listApiKeys",
        "revokeApiKey",
        "createCheckoutSession",
        "stripeWebhook",
        "grantCredits",
        "deleteAccount",
        "exportAccountData",
    }
)
