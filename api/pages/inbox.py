"""The inbox: tasks assigned to me and tasks of my roles nobody has claimed yet."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from engine.paging import SortKey
from engine.queries import TaskFilter

from . import access
from .common import Pager, engine, me, page_request, page_url, query_choice

bp = Blueprint("inbox", __name__)
VIEWS = ("all", "mine", "claimable")
SORTS = {
    "due": (SortKey("due_at"), SortKey("priority", True)),
    "priority": (SortKey("priority", True), SortKey("due_at")),
    "newest": (SortKey("created_at", True),),
}
# Shown next to each task: whom the case is for (docs/processes.md: every process keeps these).
CUSTOMER_FIELDS = ("customer_id", "customer_name")


@bp.get("/inbox")
def inbox() -> ResponseReturnValue:
    actor = me()
    eng = engine()
    processes = [d["key"] for d in eng.queries.definitions(latest_only=True)]
    view = query_choice("view", VIEWS, "all")
    process = query_choice("process", processes)
    sort = query_choice("sort", tuple(SORTS), "due") or "due"
    person = (actor.name, tuple(sorted(actor.roles)))
    where = TaskFilter(
        inbox_of=person if view == "all" else None,
        assignee=actor.name if view == "mine" else None,
        claimable_by=person if view == "claimable" else None,
        process_key=process,
    )
    page = eng.queries.task_page(where, page_request(SORTS[sort]), eng.clock.now())
    customers = eng.queries.case_fields({t["instance_id"] for t in page.items}, CUSTOMER_FIELDS)
    rows = [
        {
            **task,
            "customer": customers.get(task["instance_id"], {}),
            "may_take": access.may_take(actor, task),
            "overdue": task.get("seconds_left") is not None and task["seconds_left"] < 0,
        }
        for task in page.items
    ]
    return render_template(
        "inbox.html",
        rows=rows,
        paging=Pager.of(page),
        page_url=page_url,
        view=view,
        views={"all": "My inbox", "mine": "Assigned to me", "claimable": "To claim"},
        process=process,
        processes=processes,
        sort=sort,
        sorts={"due": "Due soonest", "priority": "Highest priority", "newest": "Newest"},
    )
