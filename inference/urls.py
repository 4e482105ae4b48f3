from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.register("galleries", views.GalleryViewSet, basename="gallery")

urlpatterns = router.urls + [
    path("galleries/<int:gallery_id>/identities/<str:label>/thumbnail/", views.ThumbnailView.as_view(),
         name="gallery-thumbnail"),
    path("he/contexts/", views.HEContextView.as_view(), name="he-contexts"),
    path("face-models/<slug:name>.onnx", views.FaceModelView.as_view(), name="face-model"),
]
