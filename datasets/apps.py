from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "datasets"

    def ready(self) -> None:
        from jobs import kinds

        kinds.register(
            kinds.JobKind(
                name="dataset_extract",
                queue="cpu",
                handler="datasets.extraction.run",
                params_serializer="datasets.extraction.ExtractParams",
                label="Dataset extraction",
                user_creatable=False,
                on_finish="datasets.actions.extraction_ended",
            )
        )
