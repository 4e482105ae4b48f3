from django.urls import path, re_path

from .consumers import JobEventsConsumer, UnknownSocketConsumer

websocket_urlpatterns = [
    path("ws/jobs/<int:job_id>/", JobEventsConsumer.as_asgi()),
    # Anything else (``/ws/jobs/abc/``, ``/ws/nothing/``) is closed with 4404, not a handshake 500.
    re_path(r"", UnknownSocketConsumer.as_asgi()),
]
