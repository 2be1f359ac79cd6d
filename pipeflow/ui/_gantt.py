"""The timeline of a run's attempts as SVG drawn here: one bar per attempt, its queue wait before it.

A lane per step while there are few (a step's retries follow each other on its lane); past
LANE_PER_STEP steps the attempts are packed into as few lanes as run at once. Each bar carries a
`<title>` (step, attempt, worker, queue wait, duration, error), which the page's script shows
on hover. A window (`start`, `end` in seconds from the first schedule) zooms in: only the bars
inside it are drawn, so 4,000 attempts zoom as fast as forty.
"""

from __future__ import annotations

import heapq
from markupsafe import Markup, escape

from ._steps import Attempt

WIDTH = 1100  # px of the plot
LABELS = 170  # px of the lane labels
LANE_PER_STEP = 60
MAX_HEIGHT = 640


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _lanes(attempts: list[Attempt], end: float) -> tuple[list[int], list[str]]:
    steps: dict[str, int] = {}
    for a in attempts:
        steps.setdefault(a.step, len(steps))
    if len(steps) <= LANE_PER_STEP:
        labels = [""] * len(steps)
        for a in attempts:
            labels[steps[a.step]] = f"{a.step} {a.task}"
        return [steps[a.step] for a in attempts], labels
    free: list[tuple[float, int]] = []  # (when the lane frees up, lane)
    count = 0
    lanes = []
    for a in attempts:
        begin = a.scheduled if a.scheduled is not None else end
        stop = a.closed if a.closed is not None else end
        if free and free[0][0] <= begin:
            lane = heapq.heappop(free)[1]
        else:
            lane, count = count, count + 1
        heapq.heappush(free, (stop, lane))
        lanes.append(lane)
    return lanes, [""] * count


def gantt(attempts: list[Attempt], end: float | None, start: float | None = None, stop: float | None = None) -> Markup:
    """The SVG of the attempts within [start, stop] (seconds after the first schedule; default: all)."""
    times = [a.scheduled for a in attempts if a.scheduled is not None]
    if not times:
        return Markup('<p class="empty">No attempt yet.</p>')
    origin = min(times)
    last = max([end or 0.0, *(a.closed or 0.0 for a in attempts), *times])
    t0 = max(0.0, start or 0.0)
    t1 = stop if stop is not None and stop > t0 else last - origin
    t1 = max(t1, t0 + 1e-3)
    scale = WIDTH / (t1 - t0)
    lanes, labels = _lanes(attempts, last)
    lane_h = max(3.0, min(16.0, MAX_HEIGHT / max(len(labels), 1)))
    height = int(len(labels) * lane_h) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{WIDTH + LABELS + 10}" height="{height}" '
           f'viewBox="0 0 {WIDTH + LABELS + 10} {height}" data-start="{t0:.6f}" data-end="{t1:.6f}" '
           f'data-scale="{scale:.6f}" data-left="{LABELS}">']
    for i in range(6):  # the time axis
        x = LABELS + i * WIDTH / 5
        out.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height - 18}"/>'
                   f'<text class="axis" x="{x:.1f}" y="{height - 4}">+{escape(_fmt(t0 + i * (t1 - t0) / 5))}</text>')
    if lane_h >= 10:
        for lane, label in enumerate(labels):
            out.append(f'<text class="lane" x="{LABELS - 6}" y="{lane * lane_h + lane_h - 3:.1f}">'
                       f'{escape(label[:28])}</text>')
    bar_h = max(2.0, lane_h - 2)
    drawn = 0
    for a, lane in zip(attempts, lanes):
        begin = (a.scheduled if a.scheduled is not None else last) - origin
        run_from = (a.started if a.started is not None else last) - origin
        finish = (a.closed if a.closed is not None else last) - origin
        if finish < t0 or begin > t1:
            continue
        y = lane * lane_h + 1
        wx0, wx1 = LABELS + (max(begin, t0) - t0) * scale, LABELS + (min(run_from, t1) - t0) * scale
        rx0, rx1 = LABELS + (max(run_from, t0) - t0) * scale, LABELS + (min(finish, t1) - t0) * scale
        tip = (f"{a.step} {a.task} · attempt {a.attempt} · {a.status}\nworker: {a.worker or '-'}\n"
               f"queue wait: {_fmt(a.wait)} · duration: {_fmt(a.duration)}" + (f"\nerror: {a.error[:300]}" if a.error else ""))
        out.append(f'<g class="a s-{escape(a.status)}" data-step="{escape(a.step)}" data-attempt="{a.attempt}">'
                   f'<title>{escape(tip)}</title>')
        if wx1 - wx0 > 0.3:
            out.append(f'<rect class="wait" x="{wx0:.1f}" y="{y:.1f}" width="{wx1 - wx0:.1f}" height="{bar_h:.1f}"/>')
        out.append(f'<rect class="run" x="{rx0:.1f}" y="{y:.1f}" width="{max(rx1 - rx0, 1.0):.1f}" '
                   f'height="{bar_h:.1f}"/></g>')
        drawn += 1
    out.append("</svg>")
    return Markup("".join(out))
