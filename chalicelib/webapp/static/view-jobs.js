// Scheduled jobs: the list with next runs, run now, enable/disable, delete; a form with a cron
// helper (the next 5 runs in the job's time zone, from POST /jobs/preview); the run history.
import { html, useState, useEffect, useMemo, when, debounceLatest } from "./lib.js";
import { api, request, can } from "./session.js";
import { toast } from "./live.js";
import { PageHead, Pager, ErrorNote, useAsync, useCursorPages, Empty, Field } from "./ui.js";

const ACTIONS = {
  refresh_feeds: { label: "Refresh feeds", params: "{}", hint: '{"feed_ids": ["…"]} or {} for all of yours' },
  queue_start: { label: "Start the queue", params: "{}", admin: true },
  queue_stop: { label: "Stop the queue", params: "{}", admin: true },
  queue_pause: { label: "Pause the queue", params: '{"minutes": 60}', admin: true },
  speed_limit: { label: "Global speed limit", params: '{"bytes_per_second": 1048576}', admin: true, hint: "0: no limit" },
  retry_failed: { label: "Retry failed downloads", params: "{}" },
  clear_history: { label: "Clear finished downloads", params: '{"older_than_days": 30}' },
  add_urls: { label: "Add URLs (when they changed)", params: '{"urls": ["https://example.com/report.csv"]}' },
  send_notification: { label: "Send a notification", params: '{"title": "Reminder", "message": "…"}' },
};
const RUN_BADGE = { success: "completed", failure: "failed", skipped: "paused", queued: "queued", running: "downloading" };
const zone = () => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch { return "UTC"; } };
const EMPTY = { name: "", kind: "cron", cron: "0 3 * * *", interval: "3600", timezone: zone(), action: "retry_failed", params: "{}", misfire: "run_once" };

function CronHelper({ form }) {
  const [runs, setRuns] = useState({ list: [], error: "" });
  const ask = useMemo(() => debounceLatest(async (current, f) => {
    const body = f.kind === "cron" ? { cron: f.cron, timezone: f.timezone } : { interval_seconds: Number(f.interval), timezone: f.timezone };
    try { const r = await api.post("/jobs/preview", body); if (current()) setRuns({ list: r.local, error: "" }); }
    catch (e) { if (current()) setRuns({ list: [], error: e.message }); }
  }, 300), []);
  useEffect(() => { ask(form); }, [form.kind, form.cron, form.interval, form.timezone]);
  return html`<div class="cron-helper" aria-live="polite"><strong>Next runs</strong>
    ${runs.error ? html`<p class="field-error">${runs.error}</p>` : html`<ol class="small">${runs.list.map((r) => html`<li>${r}</li>`)}</ol>`}</div>`;
}

function NewJob({ onMade }) {
  const [form, setForm] = useState(EMPTY);
  const [problem, setProblem] = useState(null);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const pick = (e) => setForm({ ...form, action: e.target.value, params: ACTIONS[e.target.value].params });
  const submit = async (event) => {
    event.preventDefault();
    setProblem(null);
    let params;
    try { params = JSON.parse(form.params || "{}"); } catch { setProblem({ message: "Parameters: not valid JSON", field: () => "" }); return; }
    const body = { name: form.name, timezone: form.timezone, action: form.action, params, misfire: form.misfire,
      ...(form.kind === "cron" ? { cron: form.cron } : { interval_seconds: Number(form.interval) }) };
    try { await api.post("/jobs", body); toast("success", "Job scheduled", form.name); setForm({ ...EMPTY }); onMade(); }
    catch (e) { setProblem(e); }
  };
  const err = (n) => (problem && problem.field ? problem.field(n) : "");
  const admin = can("admin");
  return html`<form class="panel" onSubmit=${submit} novalidate><h2>New job</h2>
    <div class="form-grid">
      <${Field} id="job-name" label="Name" error=${err("name")}><input id="job-name" value=${form.name} onInput=${set("name")} /><//>
      <${Field} id="job-kind" label="Schedule"><select id="job-kind" value=${form.kind} onChange=${set("kind")}>
        <option value="cron">Cron expression</option><option value="interval">Every N seconds</option></select><//>
      ${form.kind === "cron"
        ? html`<${Field} id="job-cron" label="Cron (minute hour day month weekday)" error=${err("cron")}><input id="job-cron" value=${form.cron} onInput=${set("cron")} /><//>`
        : html`<${Field} id="job-interval" label="Interval (seconds, 60 or more)" error=${err("interval_seconds")}><input id="job-interval" type="number" min="60" value=${form.interval} onInput=${set("interval")} /><//>`}
      <${Field} id="job-tz" label="Time zone" error=${err("timezone")} hint="IANA name, e.g. Europe/Berlin"><input id="job-tz" value=${form.timezone} onInput=${set("timezone")} /><//>
      <${Field} id="job-action" label="Action"><select id="job-action" value=${form.action} onChange=${pick}>
        ${Object.entries(ACTIONS).filter(([, a]) => admin || !a.admin).map(([k, a]) => html`<option value=${k}>${a.label}</option>`)}</select><//>
      <${Field} id="job-misfire" label="After downtime"><select id="job-misfire" value=${form.misfire} onChange=${set("misfire")}>
        <option value="run_once">Run once</option><option value="skip">Skip missed runs</option></select><//>
    </div>
    <${Field} id="job-params" label="Parameters (JSON)" error=${err("params")} hint=${ACTIONS[form.action].hint || ""}>
      <textarea id="job-params" rows="2" value=${form.params} onInput=${set("params")}></textarea><//>
    <${CronHelper} form=${form} />
    ${problem && !["name", "cron", "interval_seconds", "timezone", "params"].some((n) => err(n)) ? html`<p class="error-note" role="alert">${problem.message}</p>` : null}
    <button class="btn primary" type="submit">Schedule</button></form>`;
}

function History({ jobId, tick }) {
  const [status, setStatus] = useState("");
  const pages = useCursorPages(`${jobId}|${status}`);
  const [again, setAgain] = useState(0);
  const path = jobId ? `/jobs/${encodeURIComponent(jobId)}/history` : "/jobs/history";
  const { data, error } = useAsync(() => request(path, { query: { status: status || undefined, per_page: 20, cursor: pages.cursor || undefined } }).then((r) => r.data), [path, status, pages.cursor, tick, again]);
  const runs = (data && data.runs) || [];
  // A run that has not ended yet: read the page again in 2 s (runs are not on the WebSocket).
  const pending = runs.some((r) => r.status === "queued" || r.status === "running");
  useEffect(() => { if (!pending) return undefined; const t = setTimeout(() => setAgain((n) => n + 1), 2000); return () => clearTimeout(t); }, [pending, data]);
  return html`<div class="panel"><h2>Run history</h2>
    <label><span class="sr-only">Outcome</span><select value=${status} onChange=${(e) => setStatus(e.target.value)}>
      <option value="">Every outcome</option><option value="success">Succeeded</option><option value="failure">Failed</option><option value="skipped">Skipped</option></select></label>
    <${ErrorNote} error=${error} />
    ${!data ? html`<p class="loading">Loading…</p>` : runs.length === 0 ? html`<${Empty}>No runs yet.<//>` : html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">Job</th><th scope="col">Outcome</th><th scope="col">Started</th><th scope="col">Took</th><th scope="col">Result</th></tr></thead>
      <tbody>${runs.map((r) => html`<tr><td>${r.job_name}<div class="sub">${r.trigger}</div></td><td><span class="badge" data-state=${RUN_BADGE[r.status] || ""}>${r.status}</span></td>
        <td class="muted">${when(r.started_at || r.queued_at)}</td><td>${r.duration_ms !== null ? `${r.duration_ms} ms` : "—"}</td>
        <td>${r.result || ""}${r.error ? html`<div class="field-error">${r.error}</div>` : null}</td></tr>`)}</tbody></table></div>
      <div class="list-foot"><${Pager} page=${pages.page} hasNext=${Boolean(data.next_cursor)} total=${data.total} perPage=${20} onPrev=${pages.prev} onNext=${() => pages.next(data.next_cursor)} /></div>`}
  </div>`;
}

export default function Jobs() {
  const [tick, setTick] = useState(0);
  const [focus, setFocus] = useState(null);
  const { data, error } = useAsync(() => api.get("/jobs"), [tick]);
  const act = async (what, fn) => {
    try { await fn(); toast("success", what); setTick((t) => t + 1); }
    catch (e) { toast("error", `${what}: failed`, e.message); }
  };
  const jobs = (data && data.jobs) || [];
  return html`<section class="view jobs">
    <${PageHead} title="Scheduled jobs" />
    <${ErrorNote} error=${error} />
    ${!data ? html`<p class="loading">Loading…</p>` : jobs.length === 0 ? html`<${Empty}>No jobs yet.<//>` : html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">Job</th><th scope="col">Schedule</th><th scope="col">Next run</th><th scope="col">Last run</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${jobs.map((j) => html`<tr key=${j.id}><td><strong>${j.name}</strong><div class="sub">${(ACTIONS[j.action] || {}).label || j.action}</div></td>
        <td><code>${j.cron || `every ${j.interval_seconds} s`}</code><div class="sub">${j.timezone}</div></td>
        <td>${j.enabled ? when(j.next_run) : html`<span class="muted">disabled</span>`}</td>
        <td>${j.last_status ? html`<span class="badge" data-state=${RUN_BADGE[j.last_status] || ""}>${j.last_status}</span> <span class="muted small">${when(j.last_run_at)}</span>` : "—"}</td>
        <td>${can("user") ? html`<div class="actions">
          <button type="button" class="btn small" aria-label=${`Run now: ${j.name}`} onClick=${() => act("Run started", () => api.post(`/jobs/${encodeURIComponent(j.id)}/run`))}>Run now</button>
          <button type="button" class="btn small" onClick=${() => act(j.enabled ? "Disabled" : "Enabled", () => api.patch(`/jobs/${encodeURIComponent(j.id)}`, { enabled: !j.enabled }))}>${j.enabled ? "Disable" : "Enable"}</button>
          <button type="button" class="btn small" onClick=${() => setFocus(focus === j.id ? null : j.id)}>${focus === j.id ? "All runs" : "Runs"}</button>
          <button type="button" class="btn small danger" aria-label=${`Delete ${j.name}`} onClick=${() => window.confirm(`Delete the job ${j.name}?`) && act("Deleted", () => api.del(`/jobs/${encodeURIComponent(j.id)}`))}>Delete</button></div>` : null}</td></tr>`)}</tbody></table></div>`}
    <${History} jobId=${focus} tick=${tick} />
    ${can("user") ? html`<${NewJob} onMade=${() => setTick((t) => t + 1)} />` : null}
  </section>`;
}
