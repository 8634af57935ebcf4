"""Cloud Functions entry points. Each one delegates to a controller from the container."""

from __future__ import annotations

from typing import Any

from firebase_functions import https_fn, options, scheduler_fn, tasks_fn

from container import container
from controllers import catalog_controller
from controllers.http import endpoint
from core import config

options.set_global_options(region="us-central1", max_instances=10)


@https_fn.on_request()
@endpoint(["POST"])
def createGenerationRequest(req: https_fn.Request) -> https_fn.Response:
    return container().generation_controller.create(req)


@https_fn.on_request()
@endpoint(["GET", "POST"])
def getGenerationStatus(req: https_fn.Request) -> https_fn.Response:
    return container().generation_controller.status(req)


@https_fn.on_request()
@endpoint(["GET"])
def listGenerationRequests(req: https_fn.Request) -> https_fn.Response:
    return container().generation_controller.list_for_user(req)


@https_fn.on_request()
@endpoint(["GET", "POST"])
def getUserCredits(req: https_fn.Request) -> https_fn.Response:
    return container().account_controller.credits(req)


@https_fn.on_request()
@endpoint(["GET", "POST"])
def validate_user(req: https_fn.Request) -> https_fn.Response:
    return container().account_controller.validate_user(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY])
@endpoint(["GET"])
def listUsers(req: https_fn.Request) -> https_fn.Response:
    return container().account_controller.list_users(req)


@https_fn.on_request()
@endpoint(["GET"])
def getCatalog(req: https_fn.Request) -> https_fn.Response:
    return container().catalog_controller.catalog(req)


@https_fn.on_request()
@endpoint(["GET"])
def health(req: https_fn.Request) -> https_fn.Response:
    return catalog_controller.health(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY])
@endpoint(["POST"])
def seed_database(req: https_fn.Request) -> https_fn.Response:
    return container().admin_controller.seed(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY])
@endpoint(["POST"])
def scheduleWeeklyReport(req: https_fn.Request) -> https_fn.Response:
    return container().report_controller.schedule(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY])
@endpoint(["GET"])
def listReports(req: https_fn.Request) -> https_fn.Response:
    return container().report_controller.list_reports(req)


@https_fn.on_request(secrets=[config.ADMIN_API_KEY])
@endpoint(["GET"])
def getReport(req: https_fn.Request) -> https_fn.Response:
    return container().report_controller.get_report(req)


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
)
def processImageGeneration(req: tasks_fn.CallableRequest[Any]) -> dict[str, str]:
    return container().worker_controller.handle_task(req.data)


@scheduler_fn.on_schedule(schedule="every 10 minutes", timezone=scheduler_fn.Timezone("UTC"))
def recoverStuckGenerations(event: scheduler_fn.ScheduledEvent) -> None:
    container().worker_controller.recover_stuck()


@scheduler_fn.on_schedule(schedule="25 20 * * 1", timezone=scheduler_fn.Timezone("UTC"))
def weeklyReportScheduler(event: scheduler_fn.ScheduledEvent) -> None:
    container().report_controller.run_scheduled()
