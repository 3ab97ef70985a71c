"""Data: the gate checklist of each phase, and the project templates by project type.

A template's tasks are (wbs outline level, name, phase, working days, effort hours, kind);
links refer to tasks by their index in that list. RACI rows name parties by project role.
"""

from __future__ import annotations

from typing import Any

from clientops.core.i18n import N_

GATES: dict[str, list[tuple[str, str, bool]]] = {
    # phase: [(item key, label, checked automatically from the data)]
    "initiation": [
        ("goal", N_("Goal and scope written"), True),
        ("manager", N_("Project manager named"), True),
        ("team", N_("Team assembled"), True),
        ("kickoff", N_("Kick-off held with the customer"), False),
    ],
    "planning": [
        ("wbs", N_("Work breakdown structure planned"), True),
        ("budget", N_("Budget set"), True),
        ("risks", N_("Risks identified"), True),
        ("baseline", N_("Baseline saved"), True),
    ],
    "execution": [
        ("work_done", N_("All tasks complete"), True),
        ("status_report", N_("A status report published"), True),
        ("acceptance", N_("Deliverables accepted by the customer"), False),
    ],
    "monitoring": [
        ("changes_decided", N_("No change request awaiting a decision"), True),
        ("timesheets_approved", N_("No timesheet awaiting approval"), True),
    ],
    "closure": [
        ("evaluation", N_("Evaluation against goal, budget and dates"), True),
        ("lessons", N_("Lessons learned recorded"), True),
        ("handover", N_("Handed over to customer operations"), True),
        ("csat", N_("Satisfaction survey sent"), True),
    ],
}

TemplateTask = tuple[int, str, str, float, float, str]

TEMPLATES: dict[str, dict[str, Any]] = {
    "implementation": {
        "label": N_("Software implementation"),
        "tasks": [
            (1, "Initiation", "initiation", 0, 0, "summary"),
            (2, "Kick-off workshop", "initiation", 1, 16, "task"),
            (2, "Project charter signed", "initiation", 0, 0, "milestone"),
            (1, "Planning", "planning", 0, 0, "summary"),
            (2, "Requirements analysis", "planning", 5, 80, "task"),
            (2, "Solution design", "planning", 5, 60, "task"),
            (1, "Execution", "execution", 0, 0, "summary"),
            (2, "Configuration and build", "execution", 15, 240, "task"),
            (2, "Data migration", "execution", 8, 96, "task"),
            (2, "User acceptance testing", "execution", 5, 60, "task"),
            (2, "Training", "execution", 3, 36, "task"),
            (2, "Go-live", "execution", 0, 0, "milestone"),
            (1, "Closure", "closure", 0, 0, "summary"),
            (2, "Hyper-care", "closure", 10, 40, "task"),
            (2, "Hand-over to operations", "closure", 0, 0, "milestone"),
        ],
        "links": [
            (1, 2),
            (2, 4),
            (4, 5),
            (5, 7),
            (5, 8),
            (7, 9),
            (8, 9),
            (9, 10),
            (10, 11),
            (11, 13),
            (13, 14),
        ],
        "raci": [
            ("Project charter", {"Project manager": "A", "Sponsor": "R", "Customer": "C"}),
            ("Solution design", {"Project manager": "A", "Consultant": "R", "Customer": "C"}),
            ("Go-live", {"Project manager": "A", "Consultant": "R", "Customer": "I"}),
        ],
        "risks": [
            ("Requirements change late", 3, 4, "Freeze scope at design sign-off; change control"),
            ("Source data quality is poor", 4, 3, "Profile the data in planning; cleansing rules"),
            ("Key users unavailable for testing", 2, 4, "Book testers at kick-off"),
        ],
    },
    "consulting": {
        "label": N_("Consulting engagement"),
        "tasks": [
            (1, "Discovery", "initiation", 0, 0, "summary"),
            (2, "Stakeholder interviews", "initiation", 4, 32, "task"),
            (2, "Current-state assessment", "planning", 5, 40, "task"),
            (1, "Analysis", "execution", 0, 0, "summary"),
            (2, "Options and business case", "execution", 6, 48, "task"),
            (2, "Recommendations workshop", "execution", 1, 16, "task"),
            (1, "Report", "closure", 0, 0, "summary"),
            (2, "Final report", "closure", 3, 24, "task"),
            (2, "Report accepted", "closure", 0, 0, "milestone"),
        ],
        "links": [(1, 2), (2, 4), (4, 5), (5, 7), (7, 8)],
        "raci": [
            ("Assessment", {"Project manager": "A", "Consultant": "R", "Customer": "C"}),
            ("Final report", {"Project manager": "A", "Consultant": "R", "Sponsor": "I"}),
        ],
        "risks": [
            ("Stakeholders disagree on goals", 3, 3, "Agree success criteria at kick-off"),
            ("Data access delayed", 3, 2, "Request access in week one"),
        ],
    },
    "onboarding": {
        "label": N_("Support onboarding"),
        "tasks": [
            (1, "Onboarding", "initiation", 0, 0, "summary"),
            (2, "Welcome call", "initiation", 1, 2, "task"),
            (2, "Account and access set-up", "planning", 2, 8, "task"),
            (2, "Admin training", "execution", 2, 8, "task"),
            (2, "First value review", "monitoring", 1, 4, "task"),
            (2, "Onboarding complete", "closure", 0, 0, "milestone"),
        ],
        "links": [(1, 2), (2, 3), (3, 4), (4, 5)],
        "raci": [
            ("Account set-up", {"Project manager": "A", "Support engineer": "R", "Customer": "C"}),
            ("Admin training", {"Project manager": "A", "Support engineer": "R", "Customer": "I"}),
        ],
        "risks": [
            ("Customer admin not named", 2, 3, "Ask for the admin on the welcome call"),
        ],
    },
}

# The hand-over onboarding plan offered when the PM gives none.
DEFAULT_ONBOARDING = (
    N_("Introduce the operations owner to the customer's key users"),
    N_("Walk through the delivered scope and the open items"),
    N_("Agree the support channels and service levels"),
    N_("First operations review after 30 days"),
)
