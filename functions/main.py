"""Cloud Functions entry points. Each one delegates to a controller from the container."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firebase_functions import https_fn, options, scheduler_fn, tasks_fn

from controllers.http import endpoint, health_probe
from core import capacity, config

if TYPE_CHECKING:
    from container import Container

options.set_global_options(region="us-central1", max_instances=10)


def container() -> Container:
    """The process's container, imported on the first call: a function loads only its own
    dependencies (container.py builds each on first use)."""
    from container import container as built

    return built()


def _admin_origins() -> tuple[str, ...]:
    """The only origins whose pages may call the admin functions from a browser."""
    return container().settings.admin_cors_origins


@https_fn.on_request(**capacity.WAITING)
@endpoint(["POST"])
def createGenerationRequest(req: https_fn.Request) -> https_fn.Response:
    return container().generation_controller.create(req)


@https_fn.on_request(**capacity.WAITING)
@endpoint(["GET", "POST"])
def getGenerationStatus(req: https_fn.Request) -> https_fn.Response:
    return container().generation_controller.status(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY], **capacity.INTERACTIVE)
@endpoint(["POST"])
def cancelGenerationRequest(req: https_fn.Request) -> https_fn.Response:
    return container().generation_controller.cancel(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["POST"])
def deleteGenerationRequest(req: https_fn.Request) -> https_fn.Response:
    return container().generation_controller.delete(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["GET"])
def listGenerationRequests(req: https_fn.Request) -> https_fn.Response:
    return container().generation_controller.list_for_user(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["GET", "POST"])
def getUserCredits(req: https_fn.Request) -> https_fn.Response:
    return container().account_controller.credits(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["GET", "POST"])
def validate_user(req: https_fn.Request) -> https_fn.Response:
    return container().account_controller.validate_user(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["POST"])
def createAccount(req: https_fn.Request) -> https_fn.Response:
    return container().account_controller.create_account(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["POST"])
def createApiKey(req: https_fn.Request) -> https_fn.Response:
    return container().api_key_controller.create(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["GET"])
def listApiKeys(req: https_fn.Request) -> https_fn.Response:
    return container().api_key_controller.list_keys(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["POST"])
def revokeApiKey(req: https_fn.Request) -> https_fn.Response:
    return container().api_key_controller.revoke(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["GET"])
def getWebhookSecret(req: https_fn.Request) -> https_fn.Response:
    return container().webhook_controller.secret(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["POST"])
def rotateWebhookSecret(req: https_fn.Request) -> https_fn.Response:
    return container().webhook_controller.rotate_secret(req)


# --- the signed-in user's own data: deleteAccount, exportAccountData ---------------------------
@https_fn.on_request(**capacity.ACCOUNT_DATA)
@endpoint(["POST"])
def deleteAccount(req: https_fn.Request) -> https_fn.Response:
    return container().account_data_controller.delete_account(req)


@https_fn.on_request(**capacity.ACCOUNT_DATA)
@endpoint(["GET", "POST"])
def exportAccountData(req: https_fn.Request) -> https_fn.Response:
    return container().account_data_controller.export_account_data(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY], **capacity.ADMIN_READ)
@endpoint(["GET"], admin_origins=_admin_origins)
def listUsers(req: https_fn.Request) -> https_fn.Response:
    return container().account_controller.list_users(req)


@https_fn.on_request(**capacity.INTERACTIVE)
@endpoint(["GET"])
def getCatalog(req: https_fn.Request) -> https_fn.Response:
    return container().catalog_controller.catalog(req)


@https_fn.on_request(secrets=[config.STRIPE_SECRET_KEY], **capacity.INTERACTIVE)
@endpoint(["POST"])
def createCheckoutSession(req: https_fn.Request) -> https_fn.Response:
    return container().payments_controller.checkout(req)


@https_fn.on_request(secrets=[config.STRIPE_WEBHOOK_SECRET], **capacity.INTERACTIVE)
@endpoint(["POST"])
def stripeWebhook(req: https_fn.Request) -> https_fn.Response:
    return container().payments_controller.webhook(req)


@https_fn.on_request(**capacity.PROBE)
@endpoint(["GET"])
def health(req: https_fn.Request) -> https_fn.Response:
    return health_probe(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY], **capacity.ADMIN_SEED)
@endpoint(["POST"], admin_origins=_admin_origins)
def seed_database(req: https_fn.Request) -> https_fn.Response:
    return container().admin_controller.seed(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY], **capacity.REPORT)
@endpoint(["POST"], admin_origins=_admin_origins, error_extra={"reportStatus": "failed"})
def scheduleWeeklyReport(req: https_fn.Request) -> https_fn.Response:
    return container().report_controller.schedule(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY], **capacity.REPORT)
@endpoint(["POST"], admin_origins=_admin_origins)
def scheduleDailyRollup(req: https_fn.Request) -> https_fn.Response:
    return container().report_controller.rollup(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY], **capacity.ADMIN_READ)
@endpoint(["GET"], admin_origins=_admin_origins)
def listReports(req: https_fn.Request) -> https_fn.Response:
    return container().report_controller.list_reports(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY], **capacity.ADMIN_READ)
@endpoint(["GET"], admin_origins=_admin_origins)
def getReport(req: https_fn.Request) -> https_fn.Response:
    return container().report_controller.get_report(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY], **capacity.ADMIN_READ)
@endpoint(["POST"], admin_origins=_admin_origins)
def grantCredits(req: https_fn.Request) -> https_fn.Response:
    return container().grant_controller.grant(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY], **capacity.SWEEPER)
@endpoint(["POST"], admin_origins=_admin_origins)
def sweepStuckGenerations(req: https_fn.Request) -> https_fn.Response:
    return container().worker_controller.sweep_now(req)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=config.TASK_MAX_ATTEMPTS,
        min_backoff_seconds=config.TASK_MIN_BACKOFF_SECONDS,
        max_backoff_seconds=config.TASK_MAX_BACKOFF_SECONDS,
    ),
    rate_limits=options.RateLimits(
        max_concurrent_dispatches=config.TASK_MAX_CONCURRENT_DISPATCHES,
        max_dispatches_per_second=config.TASK_MAX_DISPATCHES_PER_SECOND,
    ),
    **capacity.WORKER,
)
def processImageGeneration(req: tasks_fn.CallableRequest[Any]) -> dict[str, str]:
    return container().worker_controller.handle_task(req.data)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=config.WEBHOOK_MAX_ATTEMPTS,
        min_backoff_seconds=config.WEBHOOK_MIN_BACKOFF_SECONDS,
        max_backoff_seconds=config.WEBHOOK_MAX_BACKOFF_SECONDS,
    ),
    rate_limits=options.RateLimits(
        max_concurrent_dispatches=capacity.WEBHOOK_MAX_CONCURRENT_DISPATCHES,
        max_dispatches_per_second=capacity.WEBHOOK_MAX_DISPATCHES_PER_SECOND,
    ),
    **capacity.WEBHOOK,
)
def deliverWebhook(req: tasks_fn.CallableRequest[Any]) -> dict[str, str]:
    return container().webhook_controller.handle_delivery(req.data)


@scheduler_fn.on_schedule(
    schedule="every 10 minutes", timezone=scheduler_fn.Timezone("UTC"), **capacity.SWEEPER
)
def recoverStuckGenerations(event: scheduler_fn.ScheduledEvent) -> None:
    container().worker_controller.recover_stuck()


@scheduler_fn.on_schedule(
    schedule="25 20 * * 1", timezone=scheduler_fn.Timezone("UTC"), **capacity.REPORT
)
def weeklyReportScheduler(event: scheduler_fn.ScheduledEvent) -> None:
    container().report_controller.run_scheduled()


@scheduler_fn.on_schedule(
    schedule="10 0 * * *", timezone=scheduler_fn.Timezone("UTC"), **capacity.REPORT
)
def rollupDailyUsage(event: scheduler_fn.ScheduledEvent) -> None:
    container().report_controller.run_scheduled_rollup(event.schedule_time)
