"""`[reports]`: where the daily, weekly and monthly reports go and what they read."""

from __future__ import annotations

from pydantic import Field

from opsd.config.base import Section


class ReportsConfig(Section):
    notion_database: str | None = Field(
        None, description="Name of a [[notion.databases]] entry: `opsd report --notion` writes "
        "one page per period there (rerunning updates it).",
    )
    tasks_database: str | None = Field(
        None, description="Name of a [[notion.databases]] entry holding the team's tasks: "
        "reports then show tasks completed, average completion time and estimation accuracy.",
    )
    tasks_data_source: str | None = Field(
        None, description="The tasks' data source, where the database has several (default: "
        "the first one with the status property).",
    )
    tasks_status_property: str = Field("Status", min_length=1,
                                       description="Status (or select) property of a task.")
    tasks_done_value: str = Field("Done", min_length=1,
                                  description="The value of that property for a finished task.")
    tasks_estimated_property: str = Field("Estimated Hours", min_length=1,
                                          description="Number property: hours estimated.")
    tasks_actual_property: str = Field("Actual Hours", min_length=1,
                                       description="Number property: hours actually spent.")
    tasks_completed_property: str | None = Field(
        None, description="Date property holding when a task was completed (default: the "
        "page's last_edited_time). Completion time runs from the page's created_time to it.",
    )
