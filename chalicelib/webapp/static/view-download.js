// One download: everything GET /downloads/{id} says, live; its parts; its activity; its file.
import { html, useState, useEffect, useStore, bytes, speed, duration, when, percent, href, navigate, metaLine } from "./lib.js";
import { api, can } from "./session.js";
import { tasks, toast } from "./live.js";
import { Progress, Badge, TaskActions, PageHead, ErrorNote, useAsync, Icon, Field } from "./ui.js";

function Parts({ task }) {
  const { data, error } = useAsync(() => api.get(`/downloads/${encodeURIComponent(task.id)}/parts`), [task.id, task.parts_done, task.state]);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  if (!data.parts_total) return html`<p class="muted">The parts are planned once the source has been probed.</p>`;
  const done = new Set(data.done);
  const active = task.state === "downloading";
  const shown = Math.min(data.parts_total, 2000);
  const cells = [];
  let flight = 0;
  for (let n = 1; n <= shown; n += 1) {
    let kind = done.has(n) ? "done" : "missing";
    if (kind === "missing" && active && flight < 8) { kind = "flight"; flight += 1; }
    cells.push(html`<span data-part=${kind} title=${`Part ${n}: ${kind === "flight" ? "in flight" : kind}`}></span>`);
  }
  return html`<div class="parts-map" role="img" aria-label=${`${done.size} of ${data.parts_total} parts stored`}>${cells}</div>
    <div class="legend"><span><i data-part="done"></i>stored (${done.size})</span><span><i data-part="flight"></i>in flight</span>
      <span><i></i>missing (${data.parts_total - done.size})</span></div>`;
}

function FileLink({ task }) {
  const { data, error } = useAsync(() => (task.state === "completed" ? api.get(`/downloads/${encodeURIComponent(task.id)}/link`) : Promise.resolve(null)), [task.id, task.state]);
  if (task.state !== "completed") return html`<span class="muted">The file is available once the download completes.</span>`;
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<span class="loading">Preparing the link…</span>`;
  return html`<a class="btn primary file-link" href=${data.url} rel="noreferrer" download=${task.filename}><${Icon} name="file" />Open the file</a>
    <small class="muted"> (link valid for ${duration(data.expires_in)})</small>`;
}

function Activity({ id, version }) {
  const { data, error } = useAsync(() => api.get("/activity", { task_id: id, per_page: 50 }), [id, version]);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  const entries = data.entries || [];
  if (!entries.length) return html`<p class="muted">Nothing yet.</p>`;
  return html`<ul class="timeline-list">${entries.map((e) => html`<li><time datetime=${e.at}>${when(e.at)}</time><span>${e.message}</span></li>`)}</ul>`;
}

const META_LABELS = {
  kind: "Kind", tmdb_id: "TMDB id", imdb_id: "IMDb id", title: "Title", year: "Year", season: "Season", episode: "Episode",
  episode_title: "Episode title", artist_names: "Artists", track_name: "Track", album_name: "Album", track_number: "Track number",
  disc_number: "Disc", release_date: "Released", codec: "Codec", bitrate: "Bitrate (kbit/s)", resolution: "Resolution", group: "Group",
};
const metaValue = (k, v) => (k === "artist_names" ? v.join(", ") : k === "release_date" ? [v.year, v.month, v.day].filter((x) => x != null).join("-") : String(v));

// What the download is: its metadata, or (without it) what its file name suggests, which a
// person may take as its metadata (PATCH), never applied by itself.
function Metadata({ task, onChanged }) {
  const [busy, setBusy] = useState(false);
  const meta = task.metadata;
  const shown = meta || task.guessed;
  const adopt = async () => {
    const { resolution, group, ...fields } = task.guessed;
    setBusy(true);
    try { onChanged(await api.patch(`/downloads/${encodeURIComponent(task.id)}`, { metadata: fields })); toast("success", "Metadata saved", metaLine(fields)); }
    catch (e) { toast("error", "Not saved", e.message); }
    finally { setBusy(false); }
  };
  if (!shown) return html`<p class="muted">No metadata, and nothing recognisable in the file name.</p>`;
  const rows = Object.entries(shown).filter(([k]) => k !== "labels" && META_LABELS[k]);
  const labels = Object.entries((meta && meta.labels) || {});
  return html`<div class=${meta ? "metadata" : "metadata guessed"}>
    ${meta ? null : html`<p class="muted">Guessed from the file name (not applied):</p>`}
    <dl class="kv">${rows.map(([k, v]) => html`<dt>${META_LABELS[k]}</dt><dd>${metaValue(k, v)}</dd>`)}
      ${labels.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
    ${!meta && can("user") ? html`<button type="button" class="btn small use-guess" disabled=${busy} onClick=${adopt}>Use as metadata</button>` : null}
    ${task.path || task.naming ? html`<p class="muted">Folder ${task.path || "—"} · template <code>${task.naming || "—"}</code></p>` : null}
  </div>`;
}

// Where it lands: its own folder and template (empty: its category's or the settings'). A
// change renames it: before the transfer the key changes, during it the object moves once
// stored, after completion it is moved (PATCH /downloads/{id}; docs/library.md).
function Naming({ task, onChanged }) {
  const [path, setPath] = useState(task.path || "");
  const [naming, setNaming] = useState(task.naming || "");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  useEffect(() => { setPath(task.path || ""); setNaming(task.naming || ""); }, [task.id, task.path, task.naming]);
  const save = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await api.patch(`/downloads/${encodeURIComponent(task.id)}`, { path: path.trim() || null, naming: naming.trim() || null });
      setErrors({}); toast("success", "Renamed", ""); onChanged();
    } catch (e) { setErrors(Object.fromEntries((e.details || []).map((d) => [d.field, d.message]))); toast("error", "Not renamed", e.message); }
    finally { setBusy(false); }
  };
  return html`<form class="rename" onSubmit=${save} novalidate>
    <${Field} id="rn-path" label="Folder" error=${errors.path} hint="empty: the category's"><input id="rn-path" value=${path} onInput=${(e) => setPath(e.target.value)} aria-invalid=${Boolean(errors.path)} /><//>
    <${Field} id="rn-naming" label="Template" error=${errors.naming} hint="empty: the category's or the settings'"><input id="rn-naming" value=${naming} onInput=${(e) => setNaming(e.target.value)} aria-invalid=${Boolean(errors.naming)} /><//>
    <button class="btn small" type="submit" disabled=${busy}>${busy ? "Renaming…" : "Rename"}</button></form>`;
}

function verdict(task) {
  if (!task.checksum) return html`<span class="muted">none given</span>`;
  if (task.state === "completed") return html`<span class="verdict-ok">✓ matches ${task.checksum.split(":")[0]}</span>`;
  if (task.state === "failed" && /checksum/i.test(task.error || "")) return html`<span class="verdict-bad">✕ does not match</span>`;
  return html`<span class="muted">checked when the download completes</span>`;
}

export default function Download({ args }) {
  const id = args[0] || "";
  const live = useStore(tasks);
  const { data, error, reload } = useAsync(() => api.get(`/downloads/${encodeURIComponent(id)}`), [id]);
  const task = (data && { ...data, ...(live.map.get(id) || {}), guessed: data.guessed }) || live.map.get(id);
  useEffect(() => { if (data && live.synced && !live.map.has(id)) { /* removed meanwhile */ } }, [live.version]);
  if (error) return html`<section class="view"><${PageHead} title="Download" /><${ErrorNote} error=${error} /><a href="#/downloads">Back to downloads</a></section>`;
  if (!task) return html`<p class="loading">Loading…</p>`;
  const rows = [
    ["State", html`<${Badge} state=${task.state} />${task.phase ? html` <span class="muted">${task.phase}</span>` : null}`],
    ["Progress", `${percent(task.progress)} — ${bytes(task.downloaded_bytes)} of ${bytes(task.total_bytes)}`],
    ["Speed", task.state === "downloading" ? speed(task.speed) : "—"], ["Time left", task.state === "downloading" ? duration(task.eta) : "—"],
    ["URL", task.url], ["Host", task.host || "—"], ["Stored as", task.key], ...(task.target ? [["Moves to", html`${task.target} <span class="muted">(renamed: moved once stored)</span>`]] : []), ["Content type", task.content_type || "—"],
    ["Priority", `${task.priority} (${task.priority_value})`], ["Speed limit", task.speed_limit ? speed(task.speed_limit) : task.speed_limit === 0 ? "none" : "default"],
    ["Parts", task.parts_total ? `${task.parts_done} of ${task.parts_total} × ${bytes(task.part_size)}` : "—"], ["Resumable", task.resumable ? "yes (ranges)" : "no"],
    ["Checksum", task.checksum || "—"], ["Checksum verdict", verdict(task)],
    ["Batch", task.batch_id ? html`<a href=${href("batch", [task.batch_id])}>${task.batch_name || task.batch_id}</a>` : "—"],
    ["Category", task.category || "—"], ["Tags", (task.tags || []).join(", ") || "—"], ["Custom headers", (task.header_names || []).join(", ") || "—"],
    ["Restarts", String(task.restarts)], ["Added", when(task.created_at)], ["Started", when(task.started_at)], ["Finished", when(task.finished_at)],
    ["Error", task.error || "—"], ["Note", task.note || "—"], ["Id", task.id],
  ];
  return html`<section class="view detail">
    <${PageHead} title=${task.filename || task.url}><${TaskActions} task=${task} onDeleted=${() => navigate("downloads")} /><//>
    <div class="panel"><${Progress} value=${task.progress} state=${task.state} label="Progress" />
      <p class="detail-figures"><strong>${percent(task.progress)}</strong> · ${bytes(task.downloaded_bytes)} of ${bytes(task.total_bytes)}
        ${task.state === "downloading" ? ` · ${speed(task.speed)} · ${duration(task.eta)} left` : ""}</p>
      <${FileLink} task=${task} /></div>
    <div class="grid-2">
      <div class="panel"><h2>Details</h2><dl class="kv">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></div>
      <div>
        <div class="panel"><h2>Metadata</h2><${Metadata} task=${task} onChanged=${reload} />
          ${can("user") ? html`<${Naming} task=${task} onChanged=${reload} />` : null}</div>
        <div class="panel"><h2>Parts</h2><${Parts} task=${task} /></div>
        <div class="panel"><h2>Activity</h2><${Activity} id=${id} version=${`${task.state} ${task.key}`} /></div>
      </div>
    </div>
  </section>`;
}
