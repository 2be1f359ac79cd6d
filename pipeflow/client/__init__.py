"""Looking at runs: `Client` and `Run` for Python, the frames and timeline of a run, result previews,
and the reads and tables behind `pipeflow runs/status/tasks/history/result`.
"""

from ._children import expand_tasks
from ._client import Client
from ._diff import DIFF_COLUMNS, diff_doc, render_diff
from ._fleet import fleet_metrics, render_fleet
from ._history import history_frame, progress_of
from ._logs import AttemptLog, attempt_logs, print_logs, render_logs
from ._preview import preview_result
from ._reader import Reader, iso_utc, list_runs, open_reader, run_store, seconds_between
from ._run import Run
from ._stats import STATS_COLUMNS, Stats, render_stats, stats_doc
from ._tables import format_duration, show, table
from ._tasks import HISTORY_COLUMNS, STATUSES, TASK_COLUMNS, tasks_frame
from ._timeline import timeline

__all__ = [
    "DIFF_COLUMNS",
    "HISTORY_COLUMNS",
    "AttemptLog",
    "STATS_COLUMNS",
    "STATUSES",
    "TASK_COLUMNS",
    "Client",
    "Reader",
    "Run",
    "Stats",
    "attempt_logs",
    "diff_doc",
    "expand_tasks",
    "fleet_metrics",
    "format_duration",
    "history_frame",
    "iso_utc",
    "list_runs",
    "open_reader",
    "preview_result",
    "print_logs",
    "progress_of",
    "render_diff",
    "render_fleet",
    "render_logs",
    "render_stats",
    "run_store",
    "seconds_between",
    "show",
    "stats_doc",
    "table",
    "tasks_frame",
    "timeline",
]
