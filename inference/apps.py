from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"

    def ready(self) -> None:
        from jobs import kinds

        kinds.register(
            kinds.JobKind(
                name="gallery_enroll",
                queue="cpu",
                handler="inference.enrollment.run",
                params_serializer="inference.enrollment.EnrollParams",
                label="Gallery enrollment",
                user_creatable=False,
                on_finish="inference.actions.enrollment_ended",
            )
        )
