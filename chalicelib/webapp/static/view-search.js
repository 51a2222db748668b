// Smart search (docs/metadata.md): a series' season (or a film) looked up in TMDB, candidate
// files from your feeds and the configured indexers grouped by episode, best first by the
// quality preference; "Grab season" adds the best file of every episode as one batch
// (POST /search/smart-grab). Every title from a feed or an indexer is rendered as text.
import { html, useState, bytes, href, setQuery } from "./lib.js";
import { api, can } from "./session.js";
import { toast } from "./live.js";
import { PageHead, Field, ErrorNote, Empty } from "./ui.js";

const whole = (v) => (String(v).trim() === "" ? undefined : Number(v));

function bodyOf(form) {
  const body = { kind: form.kind };
  const what = form.what.trim();
  if (/^\d+$/.test(what)) body.tmdb_id = Number(what);
  else body.title = what;
  if (whole(form.year) !== undefined) body.year = whole(form.year);
  if (form.kind === "tv") body.season = whole(form.season) ?? 1;
  return body;
}

function Candidate({ c }) {
  return html`<li class=${`candidate${c.best ? " best" : ""}${c.refused ? " refused" : ""}`}>
    <span class="name">${c.title}</span>
    <span class="muted small">${[" ", c.quality || "unknown quality", c.size ? bytes(c.size) : "size unknown",
      c.source.type === "feed" ? `feed ${c.source.name}` : `indexer ${c.source.name}`, c.group].filter(Boolean).join(" · ")}</span>
    ${c.best ? html` <span class="badge" data-state="completed">best</span>` : null}
    ${c.refused ? html` <span class="badge" data-state="paused">skipped</span><span class="muted small"> ${c.refused}</span>` : null}</li>`;
}

function Results({ data, onGrab, grabbing, grabbed }) {
  const isTv = data.kind === "tv";
  const usable = isTv ? data.episodes.length - data.missing_episodes.length : data.candidates.filter((c) => c.best).length;
  return html`<section class="search-answer" aria-live="polite">
    <div class="panel">
      <h2 class="result-title">${data.title}${data.year ? ` (${data.year})` : ""}${isTv ? ` · Season ${data.season}` : ""}</h2>
      <p class="muted small">TMDB ${data.tmdb_id} · ${data.sources.map((s) => (s.error ? `${s.name}: ${s.error}` : `${s.name}: ${s.found} found`)).join(" · ")}
        ${data.unmatched ? ` · ${data.unmatched} of another title or season` : ""}</p>
      ${isTv ? html`<p data-testid="search-summary">${usable} of ${data.episodes.length} episodes have a file${data.missing_episodes.length
        ? html`; missing: <span data-testid="missing">${data.missing_episodes.map((n) => `E${String(n).padStart(2, "0")}`).join(", ")}</span>` : ""}.</p>` : null}
      ${can("user") ? html`<div class="form-actions">
        <button type="button" class="btn primary" disabled=${grabbing || usable === 0} onClick=${onGrab}>
          ${grabbing ? "Grabbing…" : isTv ? "Grab season" : "Grab film"}</button></div>` : null}
      ${grabbed ? html`<p class="notice" role="status" data-testid="grabbed">Batch <a href=${href("batch", [grabbed.batch_id])}>${grabbed.batch_name}</a>:
        ${grabbed.tasks_created} download${grabbed.tasks_created === 1 ? "" : "s"} added${grabbed.missing_episodes.length
          ? `; no file for ${grabbed.missing_episodes.map((n) => `E${String(n).padStart(2, "0")}`).join(", ")}` : ""}.</p>` : null}
    </div>
    ${isTv ? html`<ol class="episodes">${data.episodes.map((e) => html`<li class="panel episode" key=${e.episode}>
        <h3>E${String(e.episode).padStart(2, "0")} ${e.title || ""}</h3>
        ${e.candidates.length ? html`<ul class="candidates">${e.candidates.map((c) => html`<${Candidate} c=${c} key=${c.url} />`)}</ul>`
          : html`<p class="muted small">No file found.</p>`}</li>`)}</ol>`
      : html`<div class="panel">${data.candidates.length ? html`<ul class="candidates">${data.candidates.map((c) => html`<${Candidate} c=${c} key=${c.url} />`)}</ul>`
          : html`<p class="muted small">No file found.</p>`}</div>`}
    ${data.season_packs && data.season_packs.length ? html`<div class="panel"><h3>Whole-season files (not grabbed)</h3>
      <ul class="candidates">${data.season_packs.map((c) => html`<${Candidate} c=${c} key=${c.url} />`)}</ul></div>` : null}
  </section>`;
}

export default function SearchView({ query }) {
  const [form, setForm] = useState({ what: query.q || "", year: query.year || "", kind: query.kind || "tv", season: query.season || "1" });
  const [state, setState] = useState({ data: null, error: null, busy: false, body: null });
  const [grab, setGrab] = useState({ busy: false, done: null });
  const [others, setOthers] = useState([]);
  const set = (key) => (e) => setForm((f) => ({ ...f, [key]: e.target.value }));
  const fieldError = (name) => (state.error && state.error.details || []).filter((d) => d.field === name).map((d) => d.message).join("; ");

  // Run a smart search; for a title, also list TMDB's other matches (another year, a remake),
  // each a button that searches that one by its id instead.
  const run = async (body) => {
    setState({ data: null, error: null, busy: true, body });
    setGrab({ busy: false, done: null });
    setOthers([]);
    try {
      const data = await api.post("/search/smart", body);
      setState({ data, error: null, busy: false, body });
      if (body.title) {
        const found = await api.get("/metadata/search", { provider: "tmdb", q: body.title, kind: body.kind, limit: 6 }).catch(() => null);
        setOthers(((found && found.results) || []).filter((m) => String(m.id) !== String(data.tmdb_id)).slice(0, 5));
      }
    } catch (error) {
      setState({ data: null, error, busy: false, body });
    }
  };

  const search = (e) => {
    e.preventDefault();
    if (!form.what.trim()) { setState({ data: null, error: { message: "Give a title or a TMDB id." }, busy: false, body: null }); return; }
    setQuery({ q: form.what.trim(), year: form.year, kind: form.kind, season: form.kind === "tv" ? form.season : "" });
    run(bodyOf(form));
  };

  const instead = (match) => {
    setForm((f) => ({ ...f, what: String(match.id), year: "" }));
    const { title, year, ...rest } = state.body;
    run({ ...rest, tmdb_id: Number(match.id) });
  };

  const grabIt = async () => {
    setGrab({ busy: true, done: null });
    try {
      const done = await api.post("/search/smart-grab", { ...state.body, tmdb_id: state.data.tmdb_id, title: undefined });
      setGrab({ busy: false, done });
      toast("info", `Batch ${done.batch_name}`, `${done.tasks_created} download(s) added`, href("batch", [done.batch_id]));
    } catch (error) {
      setGrab({ busy: false, done: null });
      toast("error", "Nothing grabbed", error.message);
    }
  };

  return html`<section class="view search">
    <${PageHead} title="Search" />
    <form class="panel" onSubmit=${search} role="search" aria-label="Smart search">
      <div class="form-grid">
        <${Field} label="Title or TMDB id" id="search-what" error=${fieldError("title")}>
          <input id="search-what" value=${form.what} onInput=${set("what")} autocomplete="off" placeholder="Breaking Bad or 1396" /><//>
        <${Field} label="Year" id="search-year" error=${fieldError("year")}>
          <input id="search-year" inputmode="numeric" value=${form.year} onInput=${set("year")} /><//>
        <${Field} label="Kind" id="search-kind">
          <select id="search-kind" value=${form.kind} onChange=${set("kind")}><option value="tv">Series</option><option value="movie">Film</option></select><//>
        ${form.kind === "tv" ? html`<${Field} label="Season" id="search-season" error=${fieldError("season")}>
          <input id="search-season" inputmode="numeric" value=${form.season} onInput=${set("season")} /><//>` : null}
      </div>
      <div class="form-actions"><button type="submit" class="btn primary" disabled=${state.busy}>${state.busy ? "Searching…" : "Search"}</button></div>
      <${ErrorNote} error=${state.error} />
    </form>
    ${others.length ? html`<nav class="panel other-matches" aria-label="Other matches on TMDB"><span class="muted small">Not this one? Other matches on TMDB:</span>
      ${others.map((m) => html` <button type="button" class="btn small" key=${m.id} onClick=${() => instead(m)}>${m.title}${m.year ? ` (${m.year})` : ""}</button>`)}</nav>` : null}
    ${state.data ? html`<${Results} data=${state.data} onGrab=${grabIt} grabbing=${grab.busy} grabbed=${grab.done} />`
      : !state.busy && !state.error ? html`<${Empty}>Look a series' season or a film up in TMDB; candidate files come from your feeds and the indexers an admin configured${can("admin") ? html` (<a href=${href("providers")}>Providers</a>)` : ""}.<//>` : null}
  </section>`;
}
