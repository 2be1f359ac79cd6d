"""`timeline`: a run's task attempts as a Gantt chart (matplotlib, the notebook extra)."""


from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from .._errors import PipelineError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

from ._children import retries
from ._tasks import NOTEBOOK_EXTRA, STATUSES

COLORS = {
    "COMPLETED": "#2ca02c", "FAILED": "#d62728", "TIMED_OUT": "#ff7f0e", "CANCELED": "#8c8c8c",
    "TERMINATED": "#4d4d4d", "HANDED_BACK": "#9467bd", "RUNNING": "#1f77b4", "SCHEDULED": "#aec7e8",
}
WAITING = "#cfcfcf"  # scheduled, not yet started: a thin line before the bar
MAX_LABELS = 40  # step names on the y axis; more rows get every n-th name


def _pyplot() -> Any:
    """matplotlib.pyplot, on the Agg backend when none was chosen and there is no display."""
    try:
        import matplotlib
    except ImportError as exc:
        raise PipelineError(f"the timeline needs matplotlib, which is not installed: {NOTEBOOK_EXTRA}") from exc
    try:
        chosen: str | None = matplotlib.get_backend(auto_select=False)
    except TypeError:  # matplotlib < 3.9
        chosen = getattr(matplotlib.rcParams, "_get_backend_or_none")()
    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if chosen is None and headless:
        matplotlib.use("Agg")  # no GUI to open; Jupyter sets its inline backend itself (MPLBACKEND)
    import matplotlib.pyplot as plt

    return plt


def _inside(tasks: pd.DataFrame) -> str:
    """What the child executions of a frame are, in the title's words: stages, shards, or both."""
    kinds = set(tasks["kind"].tolist()) if "kind" in tasks else set()
    return " and ".join(k + "s" for k in ("stage", "shard") if k in kinds) or "stages"


def _unit(span: float) -> tuple[str, float]:
    if span <= 120:
        return "seconds", 1.0
    if span <= 2 * 3600:
        return "minutes", 60.0
    return "hours", 3600.0


def timeline(tasks: pd.DataFrame, *, title: str | None = None, max_labels: int = MAX_LABELS,
             expand: bool = True) -> Figure:
    """A Gantt chart of task attempts (a `tasks_frame`): a row per step, a bar per attempt, coloured by status.

    The attempts of a step share its row, so retries show as bars side by side; the thin grey
    line before a bar is the time the attempt waited to be picked up. Each status and the
    waits are one collection each, so thousands of attempts draw in well under a second.

    The attempts inside stages and shards (an `expand_tasks` frame, `depth` > 0) are drawn on
    rows under their stage's, labelled `› ` once per depth before their step path (a canvas
    path: `2.0.1` is in the stage at `2`); `expand=False` draws the run's own rows only. The
    title counts every retry of the frame either way: "(12 retries, 10 inside stages)".
    """
    import numpy as np
    import pandas as pd

    plt = _pyplot()
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    total_retries, inner_retries = retries(tasks)
    where = _inside(tasks)
    if not expand and "depth" in tasks:
        tasks = tasks[tasks["depth"] == 0].reset_index(drop=True)
    if len(tasks) == 0:
        fig, ax = plt.subplots(figsize=(8, 1.5))
        ax.text(0.5, 0.5, "no task attempts yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        plt.close(fig)  # returned, not shown: Jupyter displays the return value once
        return fig  # type: ignore[no-any-return]
    end = tasks.attrs.get("end")
    end = pd.Timestamp.now(tz="UTC") if end is None or pd.isna(end) else pd.Timestamp(end)
    scheduled = tasks["scheduled"]
    t0 = scheduled.min()

    def seconds(column: pd.Series, fill: Any) -> Any:
        return (column.fillna(fill) - t0).dt.total_seconds().to_numpy(dtype="float64")

    sched = seconds(scheduled, end)
    start = seconds(tasks["started"], scheduled)  # never started: the bar spans its wait
    stop = seconds(tasks["closed"], end)
    stop = np.maximum(stop, start)
    span = max(float(np.nanmax(stop)) if len(stop) else 0.0, 1e-3)
    name, scale = _unit(span)
    sched, start, stop = sched / scale, start / scale, stop / scale
    width = np.maximum(stop - start, span / scale / 1500)  # the fastest attempts stay visible
    depth = tasks["depth"] if "depth" in tasks else pd.Series(0, index=tasks.index, dtype="int64")
    # rows in the order the steps were first scheduled; a step in a child execution under its stage's
    labels = depth.map(lambda d: "› " * int(d)) + tasks["step"].astype(str)
    codes, steps = pd.factorize(labels)
    rows = len(steps)
    y = codes.astype("float64")
    h = 0.38
    verts = np.empty((len(y), 4, 2))
    verts[:, 0, 0] = verts[:, 1, 0] = start
    verts[:, 2, 0] = verts[:, 3, 0] = start + width
    verts[:, 0, 1] = verts[:, 3, 1] = y - h
    verts[:, 1, 1] = verts[:, 2, 1] = y + h
    status = tasks["status"].to_numpy(dtype=object)
    palette = np.array([COLORS.get(s, "#000000") for s in STATUSES] + ["#000000"], dtype=object)
    index = pd.Categorical(status, categories=list(STATUSES)).codes  # -1: unknown status
    colors = palette[index]

    height = min(max(1.8, 0.22 * rows + 1.3), 14.0)
    fig, ax = plt.subplots(figsize=(10, height))
    row_points = height * 72 * 0.8 / rows  # a row's height on the page, about
    dense = row_points < 6
    waited = sched < start
    if waited.any():
        segments = np.stack([np.column_stack([sched[waited], y[waited]]),
                             np.column_stack([start[waited], y[waited]])], axis=1)
        ax.add_collection(LineCollection(list(segments), colors=WAITING, zorder=1,
                                         linewidths=max(0.2, min(1.0, row_points * 0.25))))
    facecolors = list(colors)
    # Sparse: white edges part adjacent attempts. Dense: edges of the bar's own colour keep rows
    # thinner than a pixel visible.
    ax.add_collection(PolyCollection(list(verts), facecolors=facecolors, zorder=2,
                                     edgecolors=facecolors if dense else "white", linewidths=0.6 if dense else 0.4))
    ax.set_xlim(0, span / scale * 1.02)
    ax.set_ylim(rows - 0.5, -0.5)  # the first step on top
    first_task = tasks.groupby(codes, sort=True)["task"].first().to_numpy()
    every = max(1, -(-rows // max(1, max_labels)))
    ticks = np.arange(0, rows, every)
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{steps[i]}  {first_task[i]}" for i in ticks], fontsize=8)
    ax.set_xlabel(f"{name} since {t0:%Y-%m-%d %H:%M:%S} UTC")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    present = [s for s in STATUSES if (status == s).any()]
    handles: list[Any] = [Patch(color=COLORS[s], label=s.lower().replace("_", " ")) for s in present]
    if waited.any():
        handles.append(Line2D([], [], color=WAITING, linewidth=1.0, label="waiting"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    attempts = len(tasks)
    counted = f"{total_retries + inner_retries} retries"
    if inner_retries:
        counted += f", {inner_retries} inside {where}"
    ax.set_title(title or f"{attempts} attempts of {rows} steps ({counted})", fontsize=10)
    fig.tight_layout()
    plt.close(fig)  # returned, not shown: Jupyter displays the return value once
    return fig  # type: ignore[no-any-return]
