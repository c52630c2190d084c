"""The capability profile form: the coordinator's (Members pages) and, without the name,
the member's own ("Update my profile" in outreach). `parse_profile` does the checking."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField

from broker.members.profiles import InvalidProfile, ProfileInput, parse_profile
from broker.models import Member
from broker.web.forms import choices

FREQUENCY_CHOICES = {
    "instant": "Straight away, one e-mail per notice",
    "daily": "A daily digest",
    "weekly": "A weekly digest",
    "off": "Only what a coordinator forwards by hand",
}


LIST_FIELDS = ("email", "keywords", "exclude", "cpv", "regions")


# parse_profile's messages follow a field name ("min_value: is required"); on a form
# they sit under the field's label, so some read better reworded.
FORM_MESSAGES = {
    "is required": "Enter the member's name",
    "needs at least one address": "Enter at least one e-mail address",
    "is smaller than min_value": "The largest contract can't be smaller than the smallest",
}


class ProfileForm(FlaskForm):
    """A member's capability profile; parse_profile does the checking."""

    name = StringField("Name")
    email = TextAreaField("E-mail addresses")
    description = TextAreaField("What we do")
    keywords = TextAreaField("Keywords and phrases")
    exclude = TextAreaField("Exclusions")
    cpv = StringField("CPV codes (optional)")
    regions = TextAreaField("Areas served")
    min_value = StringField("Smallest contract worth bidding for (£)")
    max_value = StringField("Largest contract the member can deliver (£)")
    supported_business = BooleanField("Supported business (can bid for reserved contracts)")
    vcse = BooleanField("Voluntary, community or social enterprise (VCSE)")
    sme = BooleanField("Small or medium-sized enterprise (SME)")
    website = StringField("Website (optional)")
    listed = BooleanField("List us in the public directory")
    frequency = SelectField(
        "How often to e-mail opportunities", choices=choices(FREQUENCY_CHOICES.items())
    )
    save = SubmitField("Save profile")
    test = SubmitField("Test this profile")


def form_data(member: Member) -> dict[str, object]:
    """A member's profile as the form shows it: lists one item per line."""
    lines = "\n".join
    return {
        "name": member.name,
        "email": lines(member.emails),
        "description": member.description,
        "keywords": lines(member.keywords),
        "exclude": lines(member.exclude),
        "cpv": " ".join(member.cpv),
        "regions": lines(member.regions),
        "min_value": _amount_text(member.min_value),
        "max_value": _amount_text(member.max_value),
        "supported_business": member.supported_business,
        "vcse": member.vcse,
        "sme": member.sme,
        "frequency": member.frequency,
        "website": member.website or "",
        "listed": member.listed,
    }


def _amount_text(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def entered(form: ProfileForm, name: str | None = None) -> ProfileInput:
    """The form's values, in the ';'-separated shape parse_profile (and the CSV) use;
    `name` for a form without the name field (a member editing its own profile)."""
    raw: dict[str, object] = {
        field: form[field].data
        for field in (
            "description",
            "min_value",
            "max_value",
            "frequency",
            "supported_business",
            "vcse",
            "sme",
            "website",
            "listed",
        )
    }
    raw["name"] = form.name.data if name is None else name
    for field in LIST_FIELDS:
        raw[field] = ";".join((form[field].data or "").splitlines())
    # CPV codes are digits, so commas and spaces can safely separate them too.
    raw["cpv"] = re.sub(r"[,\s]+", ";", form.cpv.data or "")
    return parse_profile(raw)


def show_errors(form: ProfileForm, exc: InvalidProfile) -> None:
    """Put parse_profile's messages under the fields they are about."""
    for error in exc.errors:
        field = form[error.field] if error.field in form else form["email"]
        message = FORM_MESSAGES.get(error.message, error.message)
        field.errors = [*field.errors, message[:1].upper() + message[1:]]
