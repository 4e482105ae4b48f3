"""The ClientApp, run by each SuperNode on its own data (node config ``data-path``)."""

from federation.engine.client_app import app

__all__ = ["app"]
