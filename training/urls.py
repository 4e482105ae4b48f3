from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.register("models", views.TrainedModelViewSet, basename="model")

urlpatterns = router.urls + [
    path("privacy/", views.privacy_estimate, name="privacy-estimate"),
    path("training/limits/", views.training_limits, name="training-limits"),
    path("training/", views.start_training, name="training-start"),
    path("datasets/<int:dataset_id>/privacy-ledger/", views.dataset_ledger, name="dataset-ledger"),
]
