from django.urls import path

from . import views

urlpatterns = [
    path("federated/", views.start_federated, name="federated-start"),
    path("federated/limits/", views.federated_limits, name="federated-limits"),
    path("federated/privacy/", views.federated_privacy, name="federated-privacy"),
    path("federated/supernodes/", views.supernodes, name="federated-supernodes"),
]
