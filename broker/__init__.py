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

    from broker import db
    from broker.accounts import views as accounts
    from broker.bids import views as bids
    from broker.config import load_settings, resource
    from broker.dashboard import views as dashboard
    from broker.harvest import views as harvest
    from broker.mail import views as mail
    from broker.matching import cache
    from broker.members import views as members
    from broker.network import views as network
    from broker.notices import views as notices
    from broker.outreach import views as outreach
    from broker.triage import views as triage
    from broker.web import init_app as init_web

    settings = settings or load_settings()
    app = Flask(
        __name__,
        template_folder=str(resource("templates")),
        static_folder=str(Path(__file__).parent / "static"),
        instance_path=str(settings.instance_path),
    )
    app.config.update(
        SECRET_KEY=secret_key(settings, Path(app.instance_path)),
        SETTINGS=settings,
        TESTING=settings.testing,
    )
    db.init_app(app, engine or db.make_engine(settings.database_url, settings.database.echo))
    init_web(app)
    cache.init_app(app)
    # The one list of blueprints: each feature's pages.
    features = (accounts, triage, members, notices, bids, harvest, mail, dashboard, outreach)
    for feature in (*features, network):
        app.register_blueprint(feature.bp)
    return app


def secret_key(settings: Settings, instance: Path) -> str:
    """BROKER_WEB__SECRET_KEY; else, for the zero-setup default, a key kept in the
    instance folder."""
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
