"""Form controls rendered as WTForms renders them, at a fraction of the cost.

WTForms renders an attribute list through generic machinery (``dir()`` of the field's
flags, ``Markup.format`` per attribute, a signature check per select): on the triage
page's ten filters that was a fifth of the request. These render the widget types the
broker's forms use, byte for byte as WTForms does (tests/broker/test_controls.py checks
every field of every form), and hand anything else to WTForms itself.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms import widgets

# The attribute each widget type takes from the field's flags (the validators), as WTForms.
_INPUTS: dict[type, tuple[str, ...]] = {
    cls: tuple(cls.validation_attrs)
    for cls in (
        widgets.TextInput,
        widgets.SearchInput,
        widgets.EmailInput,
        widgets.URLInput,
        widgets.TelInput,
        widgets.NumberInput,
        widgets.PasswordInput,
        widgets.DateInput,
        widgets.TimeInput,
        widgets.HiddenInput,
    )
}
_CHECKS: dict[type, tuple[str, ...]] = {
    cls: tuple(cls.validation_attrs) for cls in (widgets.CheckboxInput, widgets.RadioInput)
}
_SELECT_FLAGS = tuple(widgets.Select.validation_attrs)
_TEXTAREA_FLAGS = tuple(widgets.TextArea.validation_attrs)


def _escape_value(value: Any) -> str:
    # As html_params: escaped, and a quote inside a Markup value made safe too.
    return str(escape(value)).replace('"', "&quot;")


def _flags(field: Any, names: tuple[str, ...], attrs: dict[str, Any]) -> None:
    flags = getattr(field, "flags", None)
    if flags is None:
        return
    for name in names:
        if name not in attrs:
            value = getattr(flags, name, None)
            if value is not None:
                attrs[name] = value() if callable(value) else value


def _render(attrs: dict[str, Any]) -> str:
    out = []
    for key, value in sorted(attrs.items()):
        key = key.rstrip("_")
        if key.startswith(("data_", "aria_")):
            key = key.replace("_", "-")
        if value is True:
            out.append(key)
        elif value is not False:
            out.append(f'{key}="{_escape_value(value)}"')
    return " ".join(out)


def control(field: Any, **attrs: Any) -> Markup:
    """The field's control (input, select or textarea), exactly as ``field(**attrs)``."""
    widget = field.widget
    kind = type(widget)
    if kind in _CHECKS:
        # A box or radio button, alone (BooleanField) or one option of a list of them.
        # As WTForms: a box is ticked by its `checked` if it has one, else by its data.
        if kind is widgets.RadioInput:
            checked = field.checked
        else:
            checked = getattr(field, "checked", field.data)
        if checked:
            attrs.setdefault("checked", True)
        return _input(field, widget, _CHECKS[kind], attrs)
    if kind in _INPUTS and getattr(field, "_datalist", None) is None:
        if kind is widgets.NumberInput:
            for name in ("step", "min", "max"):
                if getattr(widget, name) is not None:
                    attrs.setdefault(name, getattr(widget, name))
        if kind is widgets.PasswordInput and widget.hide_value:
            attrs["value"] = ""
        return _input(field, widget, _INPUTS[kind], attrs)
    if kind is widgets.Select and not widget.multiple and not field.has_groups():
        attrs.setdefault("id", field.id)
        _flags(field, _SELECT_FLAGS, attrs)
        attrs["name"] = field.name
        html = [f"<select {_render(attrs)}>"]
        for choice in field._iter_choices_normalized():
            html.append(_option(choice))
        html.append("</select>")
        return Markup("".join(html))
    if kind is widgets.TextArea:
        attrs.setdefault("id", field.id)
        _flags(field, _TEXTAREA_FLAGS, attrs)
        attrs["name"] = field.name
        return Markup(f"<textarea {_render(attrs)}>\r\n{escape(field._value())}</textarea>")
    return field(**attrs)


def _input(field: Any, widget: Any, flags: tuple[str, ...], attrs: dict[str, Any]) -> Markup:
    attrs.setdefault("id", field.id)
    attrs.setdefault("type", widget.input_type)
    if "value" not in attrs:
        attrs["value"] = field._value()
    _flags(field, flags, attrs)
    attrs["name"] = field.name
    return Markup(f"<input {_render(attrs)}>")


def _option(choice: Any) -> str:
    value = str(choice.value) if isinstance(choice.value, bool) else choice.value
    if choice.render_kw:
        options = {"value": value, **choice.render_kw}
        if choice.selected:
            options["selected"] = True
        params = _render(options)
    else:
        # html_params sorts the names: "selected" comes before "value".
        params = f'value="{_escape_value(value)}"'
        if choice.selected:
            params = f"selected {params}"
    return f"<option {params}>{escape(choice.label or choice.value)}</option>"


def label(field: Any) -> Markup:
    """The field's ``<label>``, exactly as ``field.label()``."""
    target = _render({"for": field.label.field_id})
    return Markup(
        f"<label {target}>{escape(field.label.text)}</label>"
        if target
        else f"<label>{escape(field.label.text)}</label>"
    )
