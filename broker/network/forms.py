"""The forms of the network's public pages: the directory's filters and "What do you
need?" (GET, so no CSRF token), and the buyers' forms (CSRF, a honeypot, length caps)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from broker.network import buyers, finding


class DirectoryFilters(FlaskForm):
    """The directory's filters: a GET form, so no CSRF token and shareable links."""

    class Meta:
        csrf = False

    area = SelectField("Area", validators=[Optional()])
    work = SelectField("Kind of work", validators=[Optional()])
    supported = BooleanField("Supported businesses only")


class FindForm(FlaskForm):
    """ "What do you need?": a GET form (a search changes nothing), so no CSRF token."""

    class Meta:
        csrf = False

    what = TextAreaField("What do you need?", validators=[Length(max=finding.MAX_WHAT)])
    where = StringField("Where? (optional)", validators=[Length(max=finding.MAX_WHERE)])


def _capped(field: str, what: str) -> Length:
    cap = buyers.MAX_LENGTHS[field]
    return Length(max=cap, message=f"Keep {what} to {cap:,} characters")


class BuyerForm(FlaskForm):
    """Who is writing, and the honeypot a person never sees."""

    your_name = StringField(
        "Your name", validators=[InputRequired("Enter your name"), _capped("name", "your name")]
    )
    your_email = EmailField(
        "Your e-mail",
        validators=[
            InputRequired("Enter your e-mail address"),
            _capped("email", "your e-mail address"),
            Regexp(buyers.EMAIL, message="Enter an e-mail address, like name@example.org"),
        ],
    )
    organisation = StringField(
        "Organisation",
        validators=[
            InputRequired("Enter your organisation"),
            _capped("organisation", "the organisation"),
        ],
    )
    # The honeypot: hidden from people and screen readers, filled in by form-filling bots.
    homepage = StringField("Leave this box empty")

    def buyer(self) -> buyers.Buyer:
        return buyers.Buyer(
            self.your_name.data or "", self.your_email.data or "", self.organisation.data or ""
        )

    def show(self, invalid: buyers.InvalidSubmission) -> None:
        """Put the service's own refusals on the fields they are about."""
        names = {"name": "your_name", "email": "your_email", "place": "where"}
        for error in invalid.errors:
            field = getattr(self, names.get(error.field, error.field), self.your_name)
            field.errors = [*field.errors, error.message]


class ContactForm(BuyerForm):
    """ "Contact this social enterprise"."""

    message = TextAreaField(
        "Message",
        validators=[InputRequired("Write your message"), _capped("message", "your message")],
    )


class OpportunityForm(BuyerForm):
    """ "Tell us about an opportunity"."""

    title = StringField(
        "Title", validators=[InputRequired("Enter a title"), _capped("title", "the title")]
    )
    needed = TextAreaField(
        "What is needed",
        validators=[InputRequired("Say what is needed"), _capped("needed", "this")],
    )
    deadline = DateField("Deadline", validators=[Optional()], format="%Y-%m-%d")
    value = StringField("Estimated value (£)", validators=[Length(max=30)])
    where = StringField("Where", validators=[_capped("place", "where")])
