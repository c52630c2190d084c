"""The forms of the bids pages; the services check what they mean."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from broker.bids.forming import ROLE_LABELS
from broker.bids.stages import STAGE_LABELS
from broker.models.bids import MODEL_LABELS
from broker.web.forms import CheckboxesField, choices

MODEL_CHOICES = choices(MODEL_LABELS.items())
ROLE_CHOICES = choices(ROLE_LABELS.items())


class DetailsForm(FlaskForm):
    title = StringField(
        "Title", validators=[InputRequired("Give the bid a title"), Length(max=300)]
    )
    note = TextAreaField("What the bid is", validators=[Length(max=4000)])
    model = SelectField("Consortium model", choices=MODEL_CHOICES, default="lead_contractor")
    deadline_date = DateField("Tender deadline (date)", validators=[Optional()])
    deadline_time = TimeField("Tender deadline time (UK time, optional)", validators=[Optional()])
    estimated_value = DecimalField(
        "Estimated value (£)", places=0, validators=[Optional(), NumberRange(min=0)]
    )
    internal_date = DateField("Our own deadline for a final draft", validators=[Optional()])


class StartForm(FlaskForm):
    """From a notice page: the model; the rest comes from the notice."""

    model = SelectField("Consortium model", choices=MODEL_CHOICES, default="lead_contractor")


class LinkForm(FlaskForm):
    notice = StringField(
        "Notice (its number in the broker, or part of its title)",
        validators=[InputRequired("Say which notice"), Length(max=300)],
    )


class InviteForm(FlaskForm):
    members = CheckboxesField("Invite to this bid", coerce=int)
    role = SelectField("Proposed role", choices=ROLE_CHOICES, default="partner")


class PartForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    share = DecimalField(
        "Share of the work (%)", places=None, validators=[Optional(), NumberRange(0, 100)]
    )
    lots = CheckboxesField("Lots", coerce=int)


class TaskForm(FlaskForm):
    title = StringField("Task", validators=[InputRequired("Say what the task is"), Length(max=300)])
    owner = SelectField("Owner", validators=[Optional()])
    due = DateField("Due date", validators=[Optional()])


class StageForm(FlaskForm):
    stage = SelectField("Stage", choices=choices(STAGE_LABELS.items()))
    note = TextAreaField("Note", validators=[Length(max=4000)])
    value_won = DecimalField(
        "Contract value (£)", places=0, validators=[Optional(), NumberRange(min=0)]
    )
    reason = StringField("Reason (if lost or withdrawn)", validators=[Length(max=1000)])
    feedback = TextAreaField("The buyer's feedback", validators=[Length(max=4000)])
    lessons = TextAreaField("Lessons learned", validators=[Length(max=4000)])


class NoteForm(FlaskForm):
    text = TextAreaField(
        "Comment", validators=[InputRequired("Write the comment"), Length(max=4000)]
    )


class DeclineForm(FlaskForm):
    reason = TextAreaField("Why can't you join? (optional)", validators=[Length(max=2000)])
