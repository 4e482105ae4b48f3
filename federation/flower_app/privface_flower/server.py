"""The ServerApp, run by the SuperLink; it reads its run folder from the run config."""

from federation.engine.server_app import app

__all__ = ["app"]
