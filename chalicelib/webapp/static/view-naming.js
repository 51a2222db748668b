// Naming (issue #18, docs/library.md): where downloads land and what they are called. The
// templates per kind and the categories' folders and templates (admins save them with PUT
// /settings/naming), and a live preview of the key a sample download would get (POST
// /settings/naming/preview on every change, unsaved edits included).
import { html, useState, useEffect, useMemo, debounceLatest } from "./lib.js";
import { api, can } from "./session.js";
import { toast } from "./live.js";
import { PageHead, ErrorNote, useAsync, Field } from "./ui.js";

const KINDS = ["tv", "movie", "music"];
const SAMPLES = {
  tv: { title: "Breaking Bad", year: 2008, season: 1, episode: 2, kind: "tv" },
  movie: { title: "Blade Runner", year: 1982, kind: "movie" },
  music: { artist_names: ["Daft Punk"], track_name: "One More Time", album_name: "Discovery", track_number: 1, disc_number: 1 },
};
const FILES = { tv: "Breaking.Bad.S01E02.720p.mkv", movie: "blade.runner.1982.mp4", music: "one-more-time.flac" };

function Preview({ templates, categories }) {
  const [kind, setKind] = useState("tv");
  const [category, setCategory] = useState("");
  const [filename, setFilename] = useState(FILES.tv);
  const [title, setTitle] = useState(SAMPLES.tv.title);
  const [answer, setAnswer] = useState(null);
  const [problem, setProblem] = useState("");
  const ask = useMemo(() => debounceLatest(async (current, body) => {
    try { const a = await api.post("/settings/naming/preview", body); if (current()) { setAnswer(a); setProblem(""); } }
    catch (e) {
      if (!current()) return;
      setAnswer(null); setProblem((e.details && e.details[0] && `${e.details[0].field}: ${e.details[0].message}`) || e.message);
    }
  }, 150), []);
  useEffect(() => {
    const own = category ? categories.find((c) => c.name === category) : null;
    const metadata = { ...SAMPLES[kind] };
    if (kind === "music") metadata.artist_names = [title || "Artist"]; else metadata.title = title || "Title";
    const body = { filename: filename || "file", metadata, template: (own && own.template) || templates[kind] || undefined };
    if (own && own.path) body.path = own.path;
    ask(body);
  }, [kind, category, filename, title, JSON.stringify(templates), JSON.stringify(categories)]);
  const pick = (k) => { setKind(k); setFilename(FILES[k]); setTitle(k === "music" ? "Daft Punk" : SAMPLES[k].title); };
  return html`<div class="panel naming-preview"><h2>Preview</h2>
    <div class="grid-2">
      <${Field} id="pv-kind" label="A sample"><select id="pv-kind" value=${kind} onChange=${(e) => pick(e.target.value)}>
        ${KINDS.map((k) => html`<option value=${k}>${k === "tv" ? "an episode" : k === "movie" ? "a film" : "a track"}</option>`)}</select><//>
      <${Field} id="pv-category" label="Category"><select id="pv-category" value=${category} onChange=${(e) => setCategory(e.target.value)}>
        <option value="">none</option>${categories.filter((c) => c.name).map((c) => html`<option value=${c.name}>${c.name}</option>`)}</select><//>
      <${Field} id="pv-title" label=${kind === "music" ? "Artist" : "Title"}><input id="pv-title" value=${title} onInput=${(e) => setTitle(e.target.value)} /><//>
      <${Field} id="pv-file" label="File name"><input id="pv-file" value=${filename} onInput=${(e) => setFilename(e.target.value)} /><//>
    </div>
    <p>Stored as: <output class="naming-key" aria-live="polite">${answer ? answer.key : "—"}</output></p>
    ${problem ? html`<p class="field-error naming-problem" role="alert">${problem}</p>` : null}
  </div>`;
}

export default function Naming() {
  const current = useAsync(() => api.get("/settings/naming"), []);
  const [templates, setTemplates] = useState(null);
  const [categories, setCategories] = useState([]);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const admin = can("admin");
  useEffect(() => {
    if (!current.data) return;
    setTemplates({ ...current.data.templates });
    setCategories(Object.entries(current.data.categories || {}).map(([name, c]) => ({ name, path: c.path || "", template: c.template || "" })));
    setErrors({});
  }, [current.data]);
  const setRow = (i, field, value) => setCategories(categories.map((c, j) => (i === j ? { ...c, [field]: value } : c)));
  const save = async (event) => {
    event.preventDefault();
    const body = { templates, categories: Object.fromEntries(categories.filter((c) => c.name.trim()).map((c) => [c.name.trim(), {
      ...(c.path.trim() ? { path: c.path.trim() } : {}), ...(c.template.trim() ? { template: c.template.trim() } : {}) }])) };
    setBusy(true);
    try { await api.put("/settings/naming", body); toast("success", "Naming saved", ""); current.reload(); }
    catch (e) { setErrors(Object.fromEntries((e.details || []).map((d) => [d.field, d.message]))); toast("error", "Not saved", e.message); }
    finally { setBusy(false); }
  };
  if (current.error) return html`<section class="view"><${PageHead} title="Naming" /><${ErrorNote} error=${current.error} /></section>`;
  if (!templates) return html`<p class="loading">Loading…</p>`;
  const fields = Object.keys(current.data.fields || {}).map((f) => (f === "label" ? "{label.<name>}" : `{${f}}`)).join(" ");
  return html`<section class="view naming">
    <${PageHead} title="Naming" />
    <p class="muted">Where a download with metadata lands and what it is called. Fields: <code>${fields}</code>; numbers pad as <code>{season:02}</code>; <code>/</code> makes folders.</p>
    <${Preview} templates=${templates} categories=${categories} />
    <form onSubmit=${save} novalidate>
      <fieldset class="panel"><legend><h2>Templates</h2></legend>
        ${KINDS.map((k) => html`<${Field} id=${`tpl-${k}`} label=${k === "tv" ? "Episodes (tv)" : k === "movie" ? "Films (movie)" : "Music"} error=${errors[`templates.${k}`]}>
          <input id=${`tpl-${k}`} name=${`templates.${k}`} value=${templates[k] || ""} disabled=${!admin} aria-invalid=${Boolean(errors[`templates.${k}`])}
            onInput=${(e) => setTemplates({ ...templates, [k]: e.target.value })} /><//>`)}
      </fieldset>
      <fieldset class="panel"><legend><h2>Categories</h2></legend>
        <p class="muted">A category's folder and template apply to its downloads unless a download names its own.</p>
        ${categories.map((c, i) => html`<div class="grid-3 category-row">
          <${Field} id=${`cat-${i}-name`} label="Category"><input id=${`cat-${i}-name`} value=${c.name} disabled=${!admin} onInput=${(e) => setRow(i, "name", e.target.value)} /><//>
          <${Field} id=${`cat-${i}-path`} label="Folder" error=${errors[`categories.${c.name}.path`]}><input id=${`cat-${i}-path`} value=${c.path} disabled=${!admin} onInput=${(e) => setRow(i, "path", e.target.value)} /><//>
          <${Field} id=${`cat-${i}-template`} label="Template" error=${errors[`categories.${c.name}.template`]}><input id=${`cat-${i}-template`} value=${c.template} disabled=${!admin} onInput=${(e) => setRow(i, "template", e.target.value)} /><//>
          ${admin ? html`<button type="button" class="btn small" onClick=${() => setCategories(categories.filter((_, j) => j !== i))}>Remove</button>` : null}</div>`)}
        ${admin ? html`<button type="button" class="btn small add-category" onClick=${() => setCategories([...categories, { name: "", path: "", template: "" }])}>Add a category</button>` : null}
      </fieldset>
      ${admin ? html`<div class="form-actions"><button class="btn primary" type="submit" disabled=${busy}>${busy ? "Saving…" : "Save naming"}</button></div>` : null}
    </form>
  </section>`;
}
