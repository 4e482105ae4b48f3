from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Make the Celery app current in every Django process, so .delay() sends to Redis,
        # and register the worker signal handlers (reaper).
        from privface_site import celery  # noqa: F401

        from . import kinds, signals  # noqa: F401

        kinds.register(
            kinds.JobKind(
                name="selftest",
                queue="cpu",
                handler="jobs.selftest.run",
                params_serializer="jobs.selftest.SelftestParams",
                label="Self-test",
                # Hours of sleeping work on the queue that search shares: staff only.
                staff_only=True,
            )
        )
