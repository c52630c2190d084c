"""Web plumbing shared by every feature's pages: security, error pages, form controls,
Jinja filters, the health check, and the WSGI server for `broker up`."""

from __future__ import annotations

from flask import Flask

from broker.web import controls, errors, filters, health, security


def init_app(app: Flask) -> None:
    """Logins, CSRF and headers; friendly error pages; the filters and form controls;
    /healthz."""
    security.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    app.register_blueprint(health.bp)
    # The `field` macro's label and control (templates/_macros.html).
    app.add_template_global(controls.control)
    app.add_template_global(controls.label, "field_label")
