// Health (admins): every dependency of GET /health/detailed with its status, time and figures.
import { html, duration } from "./lib.js";
import { api } from "./session.js";
import { PageHead, ErrorNote, useAsync } from "./ui.js";

const BADGE = { ok: "completed", degraded: "paused", down: "failed" };
const Status = ({ value }) => html`<span class="badge" data-state=${BADGE[value] || ""}>${value}</span>`;

function Figures({ name, check }) {
  if (name === "sqs" && check.queues) {
    return html`<table class="small"><thead><tr><th scope="col">Queue</th><th scope="col">Waiting</th><th scope="col">In flight</th><th scope="col">Delayed</th></tr></thead>
      <tbody>${Object.entries(check.queues).map(([q, d]) => html`<tr><td>${q}</td><td>${d.visible}</td><td>${d.in_flight}</td><td>${d.delayed}</td></tr>`)}</tbody></table>`;
  }
  const rest = Object.entries(check).filter(([k]) => !["status", "ms", "queues"].includes(k));
  return html`<dl class="small">${rest.map(([k, v]) => html`<dt>${k.replace(/_/g, " ")}</dt><dd>${v === null ? "—" : String(v)}</dd>`)}</dl>`;
}

export default function Health() {
  const { data, error, reload, loading } = useAsync(() => api.get("/health/detailed"), []);
  return html`<section class="view health">
    <${PageHead} title="Health"><button type="button" class="btn" disabled=${loading} onClick=${reload}>Check again</button><//>
    <${ErrorNote} error=${error} />
    ${!data ? html`<p class="loading">Loading…</p>` : html`<div class="panel">
      <h2>Haul is <${Status} value=${data.status} /></h2>
      <p class="muted">version ${data.version} · stage ${data.stage} · up ${duration(data.uptime_s)} · checked in ${data.ms} ms</p></div>
      <div class="table-wrap"><table><thead><tr><th scope="col">Dependency</th><th scope="col">Status</th><th scope="col">Time</th><th scope="col">Details</th></tr></thead>
        <tbody>${Object.entries(data.checks).map(([name, check]) => html`<tr><td><strong>${name}</strong></td><td><${Status} value=${check.status} /></td>
          <td>${check.ms} ms</td><td>${check.error ? html`<p class="field-error">${check.error}</p>` : null}${check.detail ? html`<p>${check.detail}</p>` : null}<${Figures} name=${name} check=${check} /></td></tr>`)}</tbody></table></div>`}
  </section>`;
}
