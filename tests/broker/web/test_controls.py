"""The fast form controls render every field of every form exactly as WTForms does."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

import broker
from broker.web.controls import control, label
from broker.web.forms import choices


def _forms() -> list[type[FlaskForm]]:
    # Every feature's pages and forms, so that every form class is defined.
    for module in pkgutil.walk_packages(broker.__path__, "broker."):
        if module.name.endswith((".views", ".forms")):
            importlib.import_module(module.name)
    found, todo = [], list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("broker."):
            found.append(cls)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


FORMS = _forms()

# What the fields may hold: nothing, ordinary text, and text that needs escaping.
TRICKY = "Tom & \"Jerry\" <b>Bold</b> 'quoted'"
FORMDATA = {
    "empty": {},
    "plain": {"value": "Glasgow", "number": "1500", "choice": "1"},
    "tricky": {"value": TRICKY, "number": "-3", "choice": TRICKY},
}
# Attributes templates pass to the `field` macro.
ATTRIBUTES = [
    {},
    {"aria-describedby": "x-hint x-error"},
    {"rows": 4, "inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    {"class_": "wide", "data_role": 'a "b"', "required": True, "disabled": False},
]


@pytest.fixture(scope="module")
def app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="controls test", WTF_CSRF_ENABLED=False)
    return app


def _formdata(form_cls: type[FlaskForm], kind: str) -> MultiDict:
    data = FORMDATA[kind]
    values = MultiDict()
    for name, unbound in form_cls._unbound_fields or []:
        if not data:
            break
        field_cls = unbound.field_class.__name__
        key = "number" if field_cls in {"DecimalField", "IntegerField", "FloatField"} else "value"
        if "Select" in field_cls or "Radio" in field_cls or "Checkboxes" in field_cls:
            key = "choice"
        values.add(name, data[key])
    return values


def test_every_form_is_checked():
    names = {cls.__name__ for cls in FORMS}
    assert {"FilterForm", "ProfileForm", "LoginForm", "ManualNoticeForm", "SourceForm"} <= names


@pytest.mark.parametrize("kind", sorted(FORMDATA))
@pytest.mark.parametrize("form_cls", FORMS, ids=lambda c: c.__name__)
def test_controls_render_as_wtforms(app, form_cls, kind):
    with app.test_request_context("/", method="POST"):
        formdata = _formdata(form_cls, kind)
        form = form_cls(formdata=formdata) if formdata else form_cls(formdata=None)
        rendered = 0
        for field in form:
            if getattr(field, "choices", "absent") is None:
                values = [1, 2, 3] if field.coerce is int else [1, "2", TRICKY]
                field.choices = choices(zip(values, ["One", "Two & <three>", TRICKY], strict=True))
                field.process(formdata)
            # A list of boxes or radio buttons is drawn one option at a time.
            options = list(field) if hasattr(field, "__iter__") else []
            for each in [field, *options]:
                assert str(label(each)) == str(each.label())
                for attributes in ATTRIBUTES:
                    ours = control(each, **dict(attributes))
                    assert isinstance(ours, Markup)
                    assert str(ours) == str(each(**dict(attributes))), (each.name, attributes)
            rendered += 1
        # Only the forms that are a button alone (unsubscribe; a bid's task done, a
        # member's "Join") have nothing to render.
        assert rendered or form_cls.__name__ in ("UnsubscribeForm", "ButtonForm")


def test_a_selected_choice_and_escaped_value(app):
    from broker.triage.views import FilterForm

    with app.test_request_context("/?status=dismissed&q=%22x%22+%3Cy%3E"):
        form = FilterForm(MultiDict({"status": "dismissed", "q": '"x" <y>'}))
        assert '<option selected value="dismissed">Dismissed</option>' in control(form.status)
        assert 'value="&#34;x&#34; &lt;y&gt;"' in control(form.q)
