from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"

    def ready(self) -> None:
        from jobs import kinds

        kinds.register(
            kinds.JobKind(
                name="train",
                queue="gpu",
                handler="training.jobs.run",
                params_serializer="training.jobs.TrainParams",
                label="Training",
                user_creatable=False,
            )
        )
