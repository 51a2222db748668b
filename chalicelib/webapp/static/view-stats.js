// Statistics: live engine figures (WebSocket), the overview, a timeline chart (uPlot, loaded
// with this view only) and breakdowns by host, category, tag or batch.
import { html, useState, useEffect, useRef, useStore, bytes, speed, CONFIG } from "./lib.js";
import { api } from "./session.js";
import { engine } from "./live.js";
import { PageHead, ErrorNote, useAsync } from "./ui.js";

let uplot = null;
function loadUplot() {
  if (!uplot) {
    uplot = new Promise((resolve, reject) => {
      const css = document.createElement("link");
      css.rel = "stylesheet"; css.href = `${CONFIG.static}uplot.css`;
      document.head.append(css);
      const script = document.createElement("script");
      script.src = `${CONFIG.static}uplot.js`;
      script.onload = () => resolve(window.uPlot);
      script.onerror = () => reject(new Error("the chart library did not load"));
      document.head.append(script);
    });
  }
  return uplot;
}

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function TimelineChart({ buckets, group }) {
  const ref = useRef(null);
  useEffect(() => {
    let chart = null, alive = true;
    loadUplot().then((UPlot) => {
      if (!alive || !ref.current) return;
      const xs = buckets.map((b) => Date.parse(b.start) / 1000);
      const series = ["added", "completed", "failed"];
      const colours = [cssVar("--accent"), cssVar("--ok"), cssVar("--danger")];
      const axis = { stroke: cssVar("--muted"), grid: { stroke: cssVar("--line") }, ticks: { stroke: cssVar("--line") } };
      chart = new UPlot({
        width: Math.max(280, ref.current.clientWidth), height: 260,
        series: [{}, ...series.map((s, i) => ({ label: s, stroke: colours[i], width: 2, fill: i === 0 ? `${colours[0]}22` : undefined }))],
        axes: [axis, axis], scales: { x: { time: true } }, legend: { live: false },
      }, [xs, ...series.map((s) => buckets.map((b) => b[s]))], ref.current);
    }, () => {});
    const onResize = () => chart && ref.current && chart.setSize({ width: Math.max(280, ref.current.clientWidth), height: 260 });
    window.addEventListener("resize", onResize);
    return () => { alive = false; window.removeEventListener("resize", onResize); if (chart) chart.destroy(); };
  }, [buckets, group]);
  return html`<div class="chart" ref=${ref} role="img" aria-label=${`Downloads added, completed and failed per ${group}`}></div>`;
}

function Bars({ items }) {
  const max = Math.max(1, ...items.map((i) => i.bytes || i.added));
  if (!items.length) return html`<p class="muted">Nothing yet.</p>`;
  return html`<ul class="bars">${items.map((i) => html`<li><span class="name" title=${i.name}>${i.name}</span>
    <span class="bar-track"><span class="bar" style=${{ display: "block", width: `${(100 * (i.bytes || i.added)) / max}%` }}></span></span>
    <span class="num">${bytes(i.bytes)} · ${i.completed}/${i.added}</span></li>`)}</ul>`;
}

export default function Stats() {
  const live = useStore(engine);
  const [group, setGroup] = useState("hour");
  const [by, setBy] = useState("host");
  const overview = useAsync(() => api.get("/stats/overview"), []);
  const timeline = useAsync(() => api.get("/stats/timeline", { group }), [group]);
  const breakdown = useAsync(() => api.get("/stats/breakdown", { by, limit: 15 }), [by]);
  const o = overview.data;
  const cards = [
    ["Speed now", live ? speed(live.total_speed) : "—"], ["Active", live ? live.active : "—"], ["Queued", live ? live.queued : "—"],
    ["Completed today", o ? o.completed.today : "—"], ["This week", o ? o.completed.this_week : "—"],
    ["Success rate", o && o.success_rate !== null ? `${(o.success_rate * 100).toFixed(1)} %` : "—"],
    ["Stored", o ? bytes(o.bytes_stored) : "—"], ["Fetched in all", o ? bytes(o.bytes.total) : "—"],
  ];
  return html`<section class="view stats">
    <${PageHead} title="Statistics" />
    <div class="cards">${cards.map(([label, value]) => html`<div class="card"><div class="value">${value}</div><div class="label">${label}</div></div>`)}</div>
    <${ErrorNote} error=${overview.error || timeline.error || breakdown.error} />
    <div class="panel"><div class="page-head"><h2>Timeline</h2><div class="page-tools">
      <label class="per-page">Per <select value=${group} onChange=${(e) => setGroup(e.target.value)}><option value="hour">hour</option><option value="day">day</option></select></label></div></div>
      ${timeline.data ? html`<${TimelineChart} buckets=${timeline.data.buckets} group=${group} />` : html`<p class="loading">Loading…</p>`}</div>
    <div class="panel"><div class="page-head"><h2>Breakdown</h2><div class="page-tools">
      <label class="per-page">By <select value=${by} onChange=${(e) => setBy(e.target.value)}>${["host", "category", "tag", "batch"].map((b) => html`<option value=${b}>${b}</option>`)}</select></label></div></div>
      ${breakdown.data ? html`<${Bars} items=${breakdown.data.items} />` : html`<p class="loading">Loading…</p>`}</div>
  </section>`;
}
