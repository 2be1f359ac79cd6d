"""Running pipelines: embedded (engine, decider and workers in this process) and on an SWF endpoint.

Also everything that acts on runs while they live: resume, cancel and signal, the background
service of a notebook's `Client`, garbage collection of run folders, the progress line.
"""

from ._control import READS, cancel, command, find_any_run, find_run, signal
from ._embedded import (
    DEFAULT,
    PAYLOADS,
    STATE_DB,
    STATE_DIR,
    Interrupted,
    RunOutcome,
    adopt,
    close_canceled,
    default_store,
    interrupted_run,
    own_task_list,
    run,
    run_embedded,
    run_file,
    session_list,
    wait_here,
)
from ._executions import (
    DOMAIN,
    register,
    register_types,
    result_json,
    start,
    start_execution,
    task_lists,
    wait,
    wait_closed,
    with_source,
)
from ._gc import collect, gc, parse_age
from ._lambda import check_lambda_role
from ._inbox import HolderGone, Inbox, InboxReader, post
from ._old_run import OldRun, check_resumable, read_run, run_root
from ._progress import ProgressLine, StepCounts, new_events
from ._rerun import StepCall, prepare_rerun
from ._resume import definition_for, resume, resume_file, resume_swf
from ._serve import serve_decider, serve_worker
from ._service import Holder, Service, held, hold, hold_memory, release
from ._swf import check_registration, run_here, run_swf
from ._tags import MAX_TAGS, run_options, tag_filter, tag_list, tags_of

__all__ = [
    "DEFAULT",
    "DOMAIN",
    "MAX_TAGS",
    "PAYLOADS",
    "READS",
    "STATE_DB",
    "STATE_DIR",
    "Holder",
    "HolderGone",
    "Inbox",
    "InboxReader",
    "Interrupted",
    "OldRun",
    "ProgressLine",
    "RunOutcome",
    "Service",
    "StepCounts",
    "StepCall",
    "adopt",
    "cancel",
    "check_lambda_role",
    "check_registration",
    "check_resumable",
    "close_canceled",
    "collect",
    "command",
    "default_store",
    "definition_for",
    "find_any_run",
    "find_run",
    "gc",
    "held",
    "hold",
    "hold_memory",
    "interrupted_run",
    "new_events",
    "own_task_list",
    "parse_age",
    "post",
    "prepare_rerun",
    "read_run",
    "register",
    "register_types",
    "release",
    "result_json",
    "resume",
    "resume_file",
    "resume_swf",
    "run",
    "run_embedded",
    "run_file",
    "run_here",
    "run_options",
    "run_root",
    "run_swf",
    "serve_decider",
    "serve_worker",
    "session_list",
    "signal",
    "start",
    "start_execution",
    "tag_filter",
    "tag_list",
    "tags_of",
    "task_lists",
    "wait",
    "wait_closed",
    "wait_here",
    "with_source",
]
