from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.register("datasets", views.DatasetViewSet, basename="dataset")

urlpatterns = router.urls + [
    path("datasets/<int:dataset_id>/files/<int:file_id>/", views.UploadView.as_view(), name="dataset-upload"),
    path("datasets/<int:dataset_id>/files/<int:file_id>/chunk/", views.ChunkView.as_view(), name="dataset-chunk"),
    path("datasets/<int:dataset_id>/files/<int:file_id>/complete/", views.CompleteView.as_view(),
         name="dataset-complete"),
    path("datasets/<int:dataset_id>/images/<int:label>/<str:name>", views.ImageView.as_view(), name="dataset-image"),
]
