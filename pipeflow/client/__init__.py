"""Looking at runs: `Client` and `Run` for Python, the frames and timeline of a run, result previews,
and the reads and tables behind `pipeflow runs/status/tasks/history/result`.
"""

from ._children import expand_tasks
from ._client import Client
from ._history import history_frame, progress_of
from ._logs import AttemptLog, attempt_logs, print_logs, render_logs
from ._preview import preview_result
from ._reader import Reader, iso_utc, list_runs, open_reader, run_store, seconds_between
from ._run import Run
from ._tables import format_duration, show, table
from ._tasks import HISTORY_COLUMNS, STATUSES, TASK_COLUMNS, tasks_frame
from ._timeline import timeline

__all__ = [
    "HISTORY_COLUMNS",
    "AttemptLog",
    "STATUSES",
    "TASK_COLUMNS",
    "Client",
    "Reader",
    "Run",
    "attempt_logs",
    "expand_tasks",
    "format_duration",
    "history_frame",
    "iso_utc",
    "list_runs",
    "open_reader",
    "preview_result",
    "print_logs",
    "progress_of",
    "render_logs",
    "run_store",
    "seconds_between",
    "show",
    "table",
    "tasks_frame",
    "timeline",
]
