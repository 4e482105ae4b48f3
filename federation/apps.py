from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "federation"

    def ready(self) -> None:
        from jobs import kinds

        kinds.register(
            kinds.JobKind(
                name="federated",
                queue="gpu",
                handler="federation.jobs.run",
                params_serializer="federation.jobs.FederatedParams",
                label="Federated training",
                user_creatable=False,
            )
        )
