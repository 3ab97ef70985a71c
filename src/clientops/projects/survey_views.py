"""The customer's satisfaction survey page: opened from the link a project sends to each of the
customer's contacts at closure. The link's token finds the survey; no sign-in is needed, and the
answer form carries the same anonymous CSRF token as the sign-in page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

from clientops.auth.deps import SessionDep, public, render_public
from clientops.exceptions import Conflict
from clientops.projects import reports
from clientops.projects.schemas import SurveyAnswer

router = APIRouter(prefix="/survey")
Public = Depends(public)
SurveyToken = Annotated[str, Path(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


def _page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    return render_public(request, "projects/survey.html", context, status_code=status)


@router.get("/{token}", dependencies=[Public])
def survey_page(request: Request, db: SessionDep, token: SurveyToken) -> Response:
    """The survey: how satisfied the customer is with the project, 1 to 5, and a comment."""
    survey, project = reports.survey_by_token(db=db, token=token)
    return _page(request, {"project": project, "done": survey.answered_at is not None})


@router.post("/{token}", dependencies=[Public])
async def answer(request: Request, db: SessionDep, token: SurveyToken) -> Response:
    """Record the answer once; a second answer is refused with the page saying so."""
    survey, project = reports.survey_by_token(db=db, token=token)
    form = await request.form()
    context: dict[str, Any] = {"project": project, "done": survey.answered_at is not None}
    try:
        data = SurveyAnswer(score=form.get("score"), comment=form.get("comment") or None)
        reports.answer_survey(db=db, token=token, data=data)
    except ValidationError:
        return _page(request, {**context, "error": "score"}, status=422)
    except Conflict:
        return _page(request, {**context, "done": True}, status=409)
    return _page(request, {**context, "done": True, "thanks": True})
