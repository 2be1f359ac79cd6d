// pipeflow ui: hover tips and zoom on the timeline, previews fetched on demand, live refresh of open runs.
"use strict";
(function () {
  const tip = () => document.getElementById("tip");

  function onHover(event) {
    const bar = event.target.closest && event.target.closest("svg.gantt g.a");
    const box = tip();
    if (!box) return;
    if (!bar) { box.hidden = true; return; }
    const title = bar.querySelector("title");
    box.textContent = title ? title.textContent : "";
    box.hidden = false;
    box.style.left = Math.min(event.clientX + 14, window.innerWidth - 490) + "px";
    box.style.top = (event.clientY + 14) + "px";
  }

  async function loadTimeline(start, end) {
    const holder = document.getElementById("timeline");
    if (!holder) return;
    const url = new URL(holder.dataset.src, location.href);
    if (start !== null) { url.searchParams.set("start", start); url.searchParams.set("end", end); }
    const response = await fetch(url, { credentials: "same-origin" });
    holder.innerHTML = await response.text();
    holder.dataset.zoomed = start === null ? "" : "1";
  }

  function span() {
    const svg = document.querySelector("#timeline svg.gantt");
    return svg ? [parseFloat(svg.dataset.start), parseFloat(svg.dataset.end), svg] : null;
  }

  function zoom(kind) {
    const s = span();
    if (!s) return;
    const [a, b] = s, mid = (a + b) / 2, half = (b - a) / 2;
    if (kind === "reset") return loadTimeline(null, null);
    if (kind === "in") return loadTimeline(mid - half / 2, mid + half / 2);
    return loadTimeline(Math.max(0, mid - half * 2), mid + half * 2);
  }

  let drag = null;
  function seconds(svg, clientX) {
    const r = svg.getBoundingClientRect();
    const x = (clientX - r.left) * (svg.viewBox.baseVal.width / r.width) - parseFloat(svg.dataset.left);
    return parseFloat(svg.dataset.start) + Math.max(0, x) / parseFloat(svg.dataset.scale);
  }
  function down(event) {
    const svg = event.target.closest && event.target.closest("#timeline svg.gantt");
    if (!svg) return;
    drag = { svg: svg, from: seconds(svg, event.clientX), x: event.clientX };
  }
  function up(event) {
    if (!drag) return;
    const d = drag; drag = null;
    if (Math.abs(event.clientX - d.x) < 6) return;
    const to = seconds(d.svg, event.clientX);
    loadTimeline(Math.min(d.from, to), Math.max(d.from, to));
  }

  async function fetchValue(button) {
    const holder = button.closest(".lazy");
    button.disabled = true;
    button.textContent = "Reading…";
    const response = await fetch(holder.dataset.src, { credentials: "same-origin" });
    holder.innerHTML = await response.text();
  }

  async function refresh() {
    if (document.body.dataset.live !== "1" || document.hidden) return;
    const response = await fetch(location.href, { credentials: "same-origin", headers: { "X-Live": "1" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of document.querySelectorAll("[data-live-part]")) {
      if (part.id === "timeline" && part.dataset.zoomed) continue;
      const other = fresh.getElementById(part.id);
      if (other && other.innerHTML !== part.innerHTML) part.innerHTML = other.innerHTML;
    }
    document.body.dataset.live = fresh.body.dataset.live;
    document.body.dataset.liveEvery = fresh.body.dataset.liveEvery;
    document.body.dataset.refreshed = String(Date.now());
  }

  // The next refresh after the page's own interval, which a refresh may change (sooner while a
  // runs page's progress is being read).
  function scheduleRefresh() {
    const every = parseInt(document.body.dataset.liveEvery || "2000", 10);
    setTimeout(function () {
      refresh().catch(function () {}).finally(scheduleRefresh);
    }, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("mousemove", onHover);
    document.addEventListener("mousedown", down);
    document.addEventListener("mouseup", up);
    document.addEventListener("click", function (event) {
      const z = event.target.closest && event.target.closest("[data-zoom]");
      if (z) zoom(z.dataset.zoom);
      const f = event.target.closest && event.target.closest(".lazy button.fetch");
      if (f) fetchValue(f);
    });
    scheduleRefresh();
  });
})();
