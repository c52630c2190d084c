"""The SEN Opportunity Broker web application and services."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy import Engine

    from broker.config import Settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    """Build the Flask app from settings; wiring only, no work at import time."""
    # Imported here, as in the Flask tutorial, so that importing a broker module (say,
    # in the bulk-import parser process) doesn't load the whole web stack.
    from flask import Flask

    from broker import db, errors_web, formatting, matching, security, views
    from broker.config import ROOT, load_settings

    settings = settings or load_settings()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(Path(__file__).parent / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(
        SECRET_KEY=secret_key(settings, Path(app.instance_path)),
        SETTINGS=settings,
        TESTING=settings.testing,
    )
    db.init_app(
        app, engine or db.make_engine(settings.database.resolved_url(), settings.database.echo)
    )
    security.init_app(app)
    errors_web.init_app(app)
    formatting.init_app(app)
    matching.init_app(app)
    views.register_blueprints(app)
    return app


def secret_key(settings: Settings, instance: Path) -> str:
    """BROKER_WEB__SECRET_KEY; else, for the zero-setup default, a key kept in instance/."""
    if settings.web.secret_key:
        return settings.web.secret_key
    if settings.testing:
        return secrets.token_hex(32)
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
