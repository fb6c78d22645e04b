"""Names shared by the HTTP API, the agreement file and the domain: stages, activities, feedback."""

from typing import Literal, get_args

Stage = Literal["new", "engaged", "mql", "sql", "disqualified", "recycled"]
AssertedStage = Literal["new", "engaged", "mql", "sql", "disqualified"]  # what a source may claim
STAGES: tuple[str, ...] = get_args(Stage)

ActivityType = Literal[
    "page_view",
    "pricing_page_view",
    "email_open",
    "email_click",
    "form_submit",
    "content_download",
    "webinar_registered",
    "webinar_attended",
    "event_attended",
    "chat",
    "trial_signup",
    "demo_request",
    "contact_request",
]
ACTIVITY_TYPES: tuple[str, ...] = get_args(ActivityType)

FeedbackOutcome = Literal[
    "accepted", "rejected", "touched", "meeting_booked", "converted", "disqualified", "paused", "resumed"
]
FEEDBACK_OUTCOMES: tuple[str, ...] = get_args(FeedbackOutcome)
