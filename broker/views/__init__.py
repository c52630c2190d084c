"""The one list of blueprints."""

from flask import Flask

from . import notices


def register_blueprints(app: Flask) -> None:
    """Register every blueprint on `app`."""
    app.register_blueprint(notices.bp)
