// The queue: running state, start / stop / pause for N minutes (with a countdown); the queued
// downloads in dispatch order, reordered by drag and drop or by keyboard, moved to top/bottom.
import { html, useState, useEffect, useStore, duration, href } from "./lib.js";
import { api, request, can } from "./session.js";
import { membership, toast } from "./live.js";
import { PageHead, ErrorNote, useAsync, Icon, Empty, Field } from "./ui.js";

function Countdown({ until }) {
  const [, setNow] = useState(0);
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), 1000); return () => clearInterval(t); }, []);
  return html`<span class="countdown">${duration((Date.parse(until) - Date.now()) / 1000)}</span>`;
}

export default function Queue() {
  const changed = useStore(membership);
  const [tick, setTick] = useState(0);
  const queue = useAsync(() => api.get("/queue"), [tick, changed]);
  const list = useAsync(() => request("/downloads", { query: { status: "queued", sort: "queue", per_page: 200 } }).then((r) => r.data.tasks), [tick, changed]);
  const [order, setOrder] = useState([]);
  const [minutes, setMinutes] = useState("15");
  const [dragged, setDragged] = useState(null);
  const [over, setOver] = useState(null);
  const [announce, setAnnounce] = useState("");
  useEffect(() => { if (list.data) setOrder(list.data); }, [list.data]);
  const control = async (path, body) => {
    try { await api.post(`/queue/${path}`, body); setTick((t) => t + 1); }
    catch (e) { toast("error", "The queue did not change", e.message); }
  };
  const save = async (next, message) => {
    setOrder(next);
    setAnnounce(message);
    try { await api.post("/queue/reorder", { ids: next.map((t) => t.id) }); }
    catch (e) { toast("error", "Reorder failed", e.message); setTick((t) => t + 1); }
  };
  const move = (index, to) => {
    if (to < 0 || to >= order.length || to === index) return;
    const next = order.slice();
    const [item] = next.splice(index, 1);
    next.splice(to, 0, item);
    save(next, `${item.filename} moved to position ${to + 1} of ${next.length}`);
  };
  const toEdge = async (task, where) => {
    try { await api.post(`/downloads/${encodeURIComponent(task.id)}/move`, { to: where }); setTick((t) => t + 1); }
    catch (e) { toast("error", "Move failed", e.message); }
  };
  const q = queue.data;
  const admin = can("admin");
  return html`<section class="view queue">
    <${PageHead} title="Queue" />
    <${ErrorNote} error=${queue.error || list.error} />
    ${q ? html`<div class="panel queue-state">
      <h2>The queue is ${q.state}${q.state === "paused" && q.paused_until ? html` — runs again in <${Countdown} until=${q.paused_until} />` : null}</h2>
      ${q.statistics ? html`<p class="muted">${q.statistics.pending_count ?? 0} queued · ${q.statistics.active_count ?? 0} running · ${q.statistics.paused_count ?? 0} paused
        ${q.statistics.estimated_time_remaining ? ` · about ${duration(q.statistics.estimated_time_remaining)} left` : ""}</p>` : null}
      ${admin ? html`<div class="form-actions">
        <button type="button" class="btn primary" disabled=${q.state === "running"} onClick=${() => control("start")}>Start</button>
        <button type="button" class="btn" disabled=${q.state === "stopped"} onClick=${() => control("stop")}>Stop</button>
        <label class="per-page">Pause for <input type="number" min="1" max="1440" value=${minutes} style=${{ width: "5rem" }} onInput=${(e) => setMinutes(e.target.value)} aria-label="Minutes to pause" /> minutes</label>
        <button type="button" class="btn" onClick=${() => control("pause", { minutes: Number(minutes) })}>Pause</button></div>` : html`<p class="muted">Admins start, stop and pause the queue.</p>`}
    </div>` : null}
    <div class="panel"><h2>Waiting to start (${order.length})</h2>
      <p class="muted small">Drag a row, or focus its handle and use the arrow keys (Home/End: top/bottom).</p>
      <p class="sr-only" aria-live="assertive">${announce}</p>
      ${order.length === 0 ? html`<${Empty}>Nothing is waiting.<//>` : html`<ol class="queue-list">${order.map((t, i) => html`<li key=${t.id} draggable=${can("user")}
          class=${`${dragged === i ? "dragging" : ""} ${over === i ? "over" : ""}`}
          onDragStart=${(e) => { setDragged(i); e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", t.id); }}
          onDragOver=${(e) => { e.preventDefault(); setOver(i); }} onDragLeave=${() => setOver(null)}
          onDrop=${(e) => { e.preventDefault(); setOver(null); if (dragged !== null) move(dragged, i); setDragged(null); }} onDragEnd=${() => { setDragged(null); setOver(null); }}>
        <button type="button" class="btn ghost small grip" aria-label=${`Reorder ${t.filename}, position ${i + 1} of ${order.length}`}
          onKeyDown=${(e) => {
            const to = { ArrowUp: i - 1, ArrowDown: i + 1, Home: 0, End: order.length - 1 }[e.key];
            if (to !== undefined) { e.preventDefault(); move(i, to); setTimeout(() => { const b = document.querySelectorAll(".queue-list .grip")[Math.max(0, Math.min(order.length - 1, to))]; if (b) b.focus(); }, 0); }
          }}>⋮⋮</button>
        <span class="muted">${i + 1}</span><a class="qname" href=${href("download", [t.id])}>${t.filename || t.url}</a>
        <span class="chip">${t.priority}</span>
        ${can("user") ? html`<button type="button" class="btn small ghost" aria-label=${`Move ${t.filename} to the top`} onClick=${() => toEdge(t, "top")}><${Icon} name="top" /></button>
        <button type="button" class="btn small ghost" aria-label=${`Move ${t.filename} to the bottom`} onClick=${() => toEdge(t, "bottom")}><${Icon} name="bottom" /></button>` : null}
      </li>`)}</ol>`}
    </div>
  </section>`;
}
