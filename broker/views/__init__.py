"""The one list of blueprints."""

from flask import Flask

from broker.views import (
    auth,
    controls,
    dashboard,
    members,
    notices,
    outbox,
    respond,
    sources,
    triage,
    users,
)


def register_blueprints(app: Flask) -> None:
    """Register every blueprint on `app`."""
    for module in (auth, triage, members, notices, sources, outbox, dashboard, users, respond):
        app.register_blueprint(module.bp)
    # The `field` macro's label and control (templates/_macros.html).
    app.add_template_global(controls.control)
    app.add_template_global(controls.label, "field_label")
