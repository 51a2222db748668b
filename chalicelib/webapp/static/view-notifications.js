// Notifications: your targets (webhook or Apprise URL) with the events they want, a test
// button that shows what the service answered, and the deliveries with their attempts.
import { html, useState, when } from "./lib.js";
import { api, request, can } from "./session.js";
import { toast } from "./live.js";
import { PageHead, Pager, ErrorNote, useAsync, useCursorPages, Empty, Field } from "./ui.js";

const BADGE = { delivered: "completed", failed: "failed", retrying: "paused", pending: "queued" };
const DEFAULTS = ["download.completed", "download.failed", "batch.completed", "job.failed", "error"];

function NewTarget({ events, onMade }) {
  const [form, setForm] = useState({ name: "", kind: "apprise", url: "", secret: "", events: DEFAULTS });
  const [problem, setProblem] = useState(null);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const toggle = (name) => setForm({ ...form, events: form.events.includes(name) ? form.events.filter((x) => x !== name) : [...form.events, name] });
  const submit = async (event) => {
    event.preventDefault();
    setProblem(null);
    const body = { name: form.name, kind: form.kind, url: form.url, events: form.events, ...(form.kind === "webhook" && form.secret ? { secret: form.secret } : {}) };
    try { await api.post("/notifications/targets", body); toast("success", "Target added", form.name); setForm({ ...form, name: "", url: "", secret: "" }); onMade(); }
    catch (e) { setProblem(e); }
  };
  const err = (n) => (problem && problem.field ? problem.field(n) : "");
  return html`<form class="panel" onSubmit=${submit} novalidate><h2>New target</h2>
    <div class="form-grid">
      <${Field} id="nt-name" label="Name" error=${err("name")}><input id="nt-name" value=${form.name} onInput=${set("name")} /><//>
      <${Field} id="nt-kind" label="Kind"><select id="nt-kind" value=${form.kind} onChange=${set("kind")}>
        <option value="apprise">Apprise URL (Telegram, Discord, ntfy, Gotify, e-mail, Slack…)</option><option value="webhook">Webhook (signed JSON)</option></select><//>
      <${Field} id="nt-url" label="URL" error=${err("url")} hint=${form.kind === "apprise" ? "e.g. tgram://bottoken/chatid or ntfys://ntfy.sh/topic" : "https://…"}>
        <input id="nt-url" autocomplete="off" value=${form.url} onInput=${set("url")} /><//>
      ${form.kind === "webhook" ? html`<${Field} id="nt-secret" label="Signing secret (optional)" error=${err("secret")} hint="16 characters or more; never shown again">
        <input id="nt-secret" type="password" autocomplete="new-password" value=${form.secret} onInput=${set("secret")} /><//>` : null}
    </div>
    <fieldset class="events"><legend>Events</legend>${events.map((name) => html`<label class="check"><input type="checkbox" checked=${form.events.includes(name)} onChange=${() => toggle(name)} /> ${name}</label>`)}</fieldset>
    ${problem && !err("url") && !err("name") && !err("secret") ? html`<p class="error-note" role="alert">${problem.message}</p>` : null}
    <button class="btn primary" type="submit">Add target</button></form>`;
}

function Deliveries({ tick }) {
  const [status, setStatus] = useState("");
  const pages = useCursorPages(status);
  const { data, error } = useAsync(() => request("/notifications/deliveries", { query: { status: status || undefined, per_page: 20, cursor: pages.cursor || undefined } }).then((r) => r.data), [status, pages.cursor, tick]);
  const rows = (data && data.deliveries) || [];
  return html`<div class="panel"><h2>Deliveries</h2>
    <label><span class="sr-only">Status</span><select value=${status} onChange=${(e) => setStatus(e.target.value)}>
      <option value="">Every status</option><option value="delivered">Delivered</option><option value="retrying">Retrying</option><option value="failed">Failed</option><option value="pending">Pending</option></select></label>
    <${ErrorNote} error=${error} />
    ${!data ? html`<p class="loading">Loading…</p>` : rows.length === 0 ? html`<${Empty}>Nothing sent yet.<//>` : html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">When</th><th scope="col">Target</th><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last error</th></tr></thead>
      <tbody>${rows.map((d) => html`<tr><td class="muted">${when(d.created_at)}</td><td>${d.target_name || d.target_id}</td><td>${d.title}<div class="sub">${d.event}</div></td>
        <td><span class="badge" data-state=${BADGE[d.status] || ""}>${d.status}</span></td><td>${d.attempts}</td><td class="small">${d.last_error || ""}</td></tr>`)}</tbody></table></div>
      <div class="list-foot"><${Pager} page=${pages.page} hasNext=${Boolean(data.next_cursor)} total=${data.total} perPage=${20} onPrev=${pages.prev} onNext=${() => pages.next(data.next_cursor)} /></div>`}
  </div>`;
}

export default function Notifications() {
  const [tick, setTick] = useState(0);
  const targets = useAsync(() => api.get("/notifications/targets"), [tick]);
  const events = useAsync(() => api.get("/notifications/events"), []);
  const act = async (what, fn) => {
    try { await fn(); toast("success", what); setTick((t) => t + 1); }
    catch (e) { toast("error", `${what}: failed`, e.message); }
  };
  const test = async (t) => {
    try {
      const r = await api.post(`/notifications/targets/${encodeURIComponent(t.id)}/test`);
      toast(r.ok ? "success" : "error", r.ok ? `Test sent to ${t.name}` : `Test to ${t.name} failed`, r.response || "");
    } catch (e) { toast("error", "Test failed", e.message); }
    setTick((n) => n + 1);
  };
  const list = (targets.data && targets.data.targets) || [];
  return html`<section class="view notifications">
    <${PageHead} title="Notifications" />
    <${ErrorNote} error=${targets.error} />
    ${!targets.data ? html`<p class="loading">Loading…</p>` : list.length === 0 ? html`<${Empty}>No targets yet: add one below.<//>` : html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">Target</th><th scope="col">URL</th><th scope="col">Events</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${list.map((t) => html`<tr key=${t.id}><td><strong>${t.name}</strong><div class="sub">${t.kind}${t.has_secret ? " · signed" : ""}${t.enabled ? "" : " · disabled"}</div></td>
        <td><code>${t.url}</code></td><td class="small">${t.events.join(", ")}</td>
        <td>${can("user") ? html`<div class="actions">
          <button type="button" class="btn small" aria-label=${`Send a test to ${t.name}`} onClick=${() => test(t)}>Test</button>
          <button type="button" class="btn small" onClick=${() => act(t.enabled ? "Disabled" : "Enabled", () => api.patch(`/notifications/targets/${encodeURIComponent(t.id)}`, { enabled: !t.enabled }))}>${t.enabled ? "Disable" : "Enable"}</button>
          <button type="button" class="btn small danger" aria-label=${`Delete ${t.name}`} onClick=${() => window.confirm(`Delete ${t.name}?`) && act("Deleted", () => api.del(`/notifications/targets/${encodeURIComponent(t.id)}`))}>Delete</button></div>` : null}</td></tr>`)}</tbody></table></div>`}
    ${can("user") ? html`<${NewTarget} events=${(events.data && events.data.events) || DEFAULTS} onMade=${() => setTick((t) => t + 1)} />` : null}
    <${Deliveries} tick=${tick} />
  </section>`;
}
