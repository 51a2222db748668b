// Settings (admins): every section as a form, validated as you type by POST /settings/validate
// (messages next to the field), saved with PATCH; the history of versions with what each
// changed, and restore.
import { html, useState, useEffect, useMemo, when, debounceLatest } from "./lib.js";
import { api } from "./session.js";
import { toast } from "./live.js";
import { PageHead, ErrorNote, useAsync, Field } from "./ui.js";

const META = new Set(["version", "updated_at", "updated_by", "restored_from"]);
const label = (key) => key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

function History({ version, onRestored }) {
  const { data, error, reload } = useAsync(() => api.get("/settings/history", { per_page: 20 }), [version]);
  const restore = async (n) => {
    try { await api.post(`/settings/history/${n}/restore`); toast("success", `Version ${n} restored`, ""); onRestored(); reload(); }
    catch (e) { toast("error", "Restore failed", e.message); }
  };
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  if (!data.versions.length) return html`<p class="muted">No change yet: these are the defaults.</p>`;
  return html`<ol class="timeline-list">${data.versions.map((v) => html`<li><div style=${{ flex: "1" }}>
    <strong>Version ${v.version}</strong> <span class="muted">${when(v.updated_at)} · ${v.updated_by || "—"}${v.restored_from ? ` · restored version ${v.restored_from}` : ""}</span>
    <div class="diff">${Object.entries(v.changes || {}).map(([k, [from, to]]) => html`<div>${k}: <span class="from">${String(from)}</span> → <span class="to">${String(to)}</span></div>`)}</div></div>
    ${v.version !== version ? html`<button type="button" class="btn small" onClick=${() => restore(v.version)}>Restore</button>` : html`<span class="chip">current</span>`}</li>`)}</ol>`;
}

export default function Settings() {
  const current = useAsync(() => api.get("/settings"), []);
  const [values, setValues] = useState(null);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  useEffect(() => { if (current.data) { setValues(current.data); setErrors({}); } }, [current.data]);
  const sections = current.data ? Object.keys(current.data).filter((k) => !META.has(k) && typeof current.data[k] === "object" && current.data[k]) : [];
  const patch = (vals) => {
    const out = {};
    for (const s of sections) for (const [k, v] of Object.entries(vals[s] || {})) {
      if (String(v) !== String(current.data[s][k])) (out[s] ||= {})[k] = v === "" ? v : Number.isFinite(Number(v)) ? Number(v) : v;
    }
    return out;
  };
  const validate = useMemo(() => debounceLatest(async (current, vals) => {
    const body = patch(vals);
    if (!Object.keys(body).length) { setErrors({}); return; }
    try {
      const answer = await api.post("/settings/validate", body);
      if (current()) setErrors(Object.fromEntries((answer.errors || []).map((e) => [e.field, e.message])));
    } catch (e) {
      if (current()) setErrors(Object.fromEntries((e.details || []).map((d) => [d.field, d.message])));
    }
  }, 250), [current.data]);
  const change = (s, k, v) => { const next = { ...values, [s]: { ...values[s], [k]: v } }; setValues(next); validate(next); };
  const save = async (event) => {
    event.preventDefault();
    const body = patch(values);
    if (!Object.keys(body).length) { toast("info", "Nothing to save", ""); return; }
    setBusy(true);
    try { await api.patch("/settings", body); toast("success", "Settings saved", ""); current.reload(); }
    catch (e) { setErrors(Object.fromEntries((e.details || []).map((d) => [d.field, d.message]))); toast("error", "Not saved", e.message); }
    finally { setBusy(false); }
  };
  if (current.error) return html`<section class="view"><${PageHead} title="Settings" /><${ErrorNote} error=${current.error} /></section>`;
  if (!values) return html`<p class="loading">Loading…</p>`;
  const invalid = Object.keys(errors).length > 0;
  return html`<section class="view settings">
    <${PageHead} title="Settings"><span class="muted">Version ${current.data.version}</span><//>
    <form onSubmit=${save} novalidate>
      <div class="grid-2">${sections.map((s) => html`<fieldset class="panel"><legend><h2>${label(s)}</h2></legend>
        ${Object.entries(values[s]).map(([k, v]) => {
          const id = `set-${s}-${k}`;
          const message = errors[`${s}.${k}`] || errors[k];
          return html`<${Field} id=${id} label=${label(k)} error=${message}>
            <input id=${id} name=${`${s}.${k}`} value=${v} inputmode="numeric" aria-invalid=${Boolean(message)}
              aria-describedby=${message ? `${id}-error` : undefined} onInput=${(e) => change(s, k, e.target.value)} /><//>`;
        })}</fieldset>`)}</div>
      <div class="form-actions"><button class="btn primary" type="submit" disabled=${busy || invalid}>${busy ? "Saving…" : "Save changes"}</button>
        <button class="btn" type="button" onClick=${() => { setValues(current.data); setErrors({}); }}>Discard</button></div>
    </form>
    <div class="panel" style=${{ marginTop: "1rem" }}><h2>History</h2><${History} version=${current.data.version} onRestored=${current.reload} /></div>
  </section>`;
}
