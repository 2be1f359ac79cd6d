"""`pipeflow fleet-metrics`: per task list, the work waiting for a fleet of deciders and workers on SWF."""

from __future__ import annotations

import click

from ._group import cli


@cli.command("fleet-metrics")
@click.option("--domain", required=True, help="SWF domain.")
@click.option("--task-list", "task_lists", multiple=True, metavar="NAME",
              help="Report this task list (repeatable) [default: the registered types' default task lists and "
                   "those the open executions use].")
@click.option("--max-executions", type=click.IntRange(min=1, max=1000), default=100, show_default=True,
              help="Open executions (the newest first) whose histories are read for the oldest pending task's age.")
@click.option("--max-events", type=click.IntRange(min=1, max=1000), default=1000, show_default=True,
              help="Newest events read from each of those histories (one call each).")
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL_SWF", help="SWF endpoint, e.g. a `pipeflow server`.")
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], help="AWS region.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (for a metrics agent) instead of a table.")
def fleet_metrics(task_lists: tuple[str, ...], domain: str, max_executions: int, max_events: int,
                  endpoint_url: str | None, region: str | None, as_json: bool) -> None:
    """Per task list: pending activity and decision tasks, open executions, the oldest pending task's age.

    The counts are SWF's (CountPendingActivityTasks, CountPendingDecisionTasks; a `+` or
    "pending_truncated" when SWF capped them). SWF has no call for a pending task's age: it is
    derived from the open executions' histories, a task being pending from its scheduling event
    until a later event starts (or closes) it. The cost is bounded: one ListOpenWorkflowExecutions
    page of the --max-executions newest open executions (and CountOpenWorkflowExecutions when there
    are more), one GetWorkflowExecutionHistory call each for its --max-events newest events, the
    registered types listed and described once (without --task-list), and two counts per task
    list. When executions or events were left unread, the ages and per-list open executions are
    lower bounds ("complete": false).
    """
    from ..client import fleet_metrics as collect
    from ..client import render_fleet
    from ..endpoint import service_errors, swf_client
    from ..running import result_json

    with service_errors(domain):
        swf = swf_client(endpoint_url=endpoint_url, region=region)
        doc = collect(swf, domain, list(task_lists) or None, max_executions=max_executions, max_events=max_events)
    click.echo(result_json(doc) if as_json else render_fleet(doc))
