// Providers (admins; docs/metadata.md): TMDB, MusicBrainz, the Torznab/Newznab indexers and
// the quality preference smart grab ranks files by (GET/PATCH /settings/providers). Keys are
// write-only: the page says whether one is stored, never shows it; an empty key field keeps it.
import { html, useState, useEffect } from "./lib.js";
import { api } from "./session.js";
import { toast } from "./live.js";
import { PageHead, ErrorNote, useAsync, Field } from "./ui.js";

const MiB = 1024 * 1024;
const list = (text) => text.split(",").map((p) => p.trim()).filter(Boolean);
const num = (v) => (String(v).trim() === "" ? undefined : Number(v));

function toForm(d) {
  return {
    tmdb: { ...d.tmdb, api_key: "", remove_key: false },
    musicbrainz: { ...d.musicbrainz },
    indexers: d.indexers.map((i) => ({ ...i, api_key: "", categories: i.categories.join(", "), remove_key: false })),
    quality: { resolutions: d.quality.resolutions.join(", "), min_size: d.quality.min_size ? String(d.quality.min_size / MiB) : "",
               max_size: d.quality.max_size ? String(d.quality.max_size / MiB) : "", prefer_groups: d.quality.prefer_groups.join(", "),
               avoid_groups: d.quality.avoid_groups.join(", "), prefer_sources: d.quality.prefer_sources.join(", ") },
  };
}

function toApi(f) {
  const key = (entry) => (entry.remove_key ? "" : entry.api_key.trim() || undefined);
  return {
    tmdb: { api_key: key(f.tmdb), base_url: f.tmdb.base_url, image_base_url: f.tmdb.image_base_url, language: f.tmdb.language,
            requests_per_second: num(f.tmdb.requests_per_second), cache_seconds: num(f.tmdb.cache_seconds) },
    musicbrainz: { contact: f.musicbrainz.contact, base_url: f.musicbrainz.base_url, coverart_base_url: f.musicbrainz.coverart_base_url,
                   requests_per_second: num(f.musicbrainz.requests_per_second), cache_seconds: num(f.musicbrainz.cache_seconds) },
    indexers: f.indexers.map((i) => ({ name: i.name.trim(), url: i.url.trim(), api_key: key(i), enabled: i.enabled,
                                       categories: list(i.categories).map(Number), requests_per_second: num(i.requests_per_second),
                                       cache_seconds: num(i.cache_seconds) })),
    quality: { resolutions: list(f.quality.resolutions), min_size: Math.round((num(f.quality.min_size) || 0) * MiB),
               max_size: Math.round((num(f.quality.max_size) || 0) * MiB), prefer_groups: list(f.quality.prefer_groups),
               avoid_groups: list(f.quality.avoid_groups), prefer_sources: list(f.quality.prefer_sources) },
  };
}

const Configured = ({ yes }) => html`<span class="badge" data-state=${yes ? "completed" : "paused"}>${yes ? "configured" : "not configured"}</span>`;

export default function Providers() {
  const current = useAsync(() => api.get("/settings/providers"), []);
  const [form, setForm] = useState(null);
  const [errors, setErrors] = useState({});
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { if (current.data) { setForm(toForm(current.data)); setErrors({}); } }, [current.data]);
  if (current.error) return html`<section class="view providers"><${PageHead} title="Providers" /><${ErrorNote} error=${current.error} /></section>`;
  if (!form) return html`<section class="view providers"><${PageHead} title="Providers" /><p class="loading">Loading…</p></section>`;
  const d = current.data;
  const set = (section, key) => (e) => setForm((f) => ({ ...f, [section]: { ...f[section], [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value } }));
  const setIndexer = (i, key) => (e) => setForm((f) => ({ ...f, indexers: f.indexers.map((x, j) => (j === i ? { ...x, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value } : x)) }));
  const input = (section, key, label, extra = {}) => {
    const id = `p-${section}-${key}`;
    return html`<${Field} label=${label} id=${id} error=${errors[`${section}.${key}`]} hint=${extra.hint}>
      <input id=${id} type=${extra.type || "text"} value=${form[section][key]} onInput=${set(section, key)} autocomplete="off"
        placeholder=${extra.placeholder || ""} /><//>`;
  };
  const save = async (event) => {
    event.preventDefault();
    setBusy(true); setFailure(null);
    try {
      await api.patch("/settings/providers", toApi(form));
      toast("success", "Providers saved", "");
      current.reload();
    } catch (e) {
      setErrors(Object.fromEntries((e.details || []).map((x) => [x.field, x.message])));
      setFailure(e);
    } finally { setBusy(false); }
  };
  return html`<section class="view providers">
    <${PageHead} title="Providers" />
    <form onSubmit=${save} aria-label="Provider settings">
      <fieldset class="panel"><legend>TMDB <${Configured} yes=${d.tmdb.configured} /></legend>
        <div class="form-grid">
          ${input("tmdb", "api_key", "API key or read access token", { type: "password", hint: d.tmdb.api_key_set ? "a key is stored: leave empty to keep it" : "none stored yet",
                                                                       placeholder: d.tmdb.api_key_set ? "•••••• stored" : "" })}
          ${d.tmdb.api_key_set ? html`<${Field} label="Stored key" id="p-tmdb-remove"><label class="check"><input type="checkbox" id="p-tmdb-remove"
            checked=${form.tmdb.remove_key} onChange=${set("tmdb", "remove_key")} /> remove it</label><//>` : null}
          ${input("tmdb", "base_url", "API base URL")}${input("tmdb", "image_base_url", "Image base URL")}
          ${input("tmdb", "language", "Language")}${input("tmdb", "requests_per_second", "Requests per second (at most 50)")}
          ${input("tmdb", "cache_seconds", "Cache answers (seconds)")}
        </div></fieldset>
      <fieldset class="panel"><legend>MusicBrainz <${Configured} yes=${d.musicbrainz.configured} /></legend>
        <div class="form-grid">
          ${input("musicbrainz", "contact", "Contact (e-mail or URL)", { hint: "sent in the User-Agent, as MusicBrainz asks" })}
          ${input("musicbrainz", "base_url", "API base URL")}${input("musicbrainz", "coverart_base_url", "Cover Art Archive URL")}
          ${input("musicbrainz", "requests_per_second", "Requests per second (at most 1)")}${input("musicbrainz", "cache_seconds", "Cache answers (seconds)")}
        </div></fieldset>
      <fieldset class="panel"><legend>Indexers (Torznab / Newznab)</legend>
        ${form.indexers.map((x, i) => html`<div class="indexer" key=${i}><div class="form-grid">
          <${Field} label="Name" id=${`p-ix-${i}-name`} error=${errors[`indexers.${i}.name`]}><input id=${`p-ix-${i}-name`} value=${x.name} onInput=${setIndexer(i, "name")} /><//>
          <${Field} label="API URL" id=${`p-ix-${i}-url`} error=${errors[`indexers.${i}.url`]}><input id=${`p-ix-${i}-url`} value=${x.url} onInput=${setIndexer(i, "url")} placeholder="http://prowlarr:9696/1/api" /><//>
          <${Field} label="API key" id=${`p-ix-${i}-key`} hint=${x.api_key_set ? "a key is stored: leave empty to keep it" : "none stored"}>
            <input id=${`p-ix-${i}-key`} type="password" value=${x.api_key} onInput=${setIndexer(i, "api_key")} autocomplete="off" /><//>
          <${Field} label="Categories" id=${`p-ix-${i}-cat`} error=${errors[`indexers.${i}.categories`]} hint="comma separated, e.g. 5000, 5040 (empty: TV or movies)">
            <input id=${`p-ix-${i}-cat`} value=${x.categories} onInput=${setIndexer(i, "categories")} /><//>
          <${Field} label="Use it" id=${`p-ix-${i}-on`}><label class="check"><input type="checkbox" id=${`p-ix-${i}-on`} checked=${x.enabled} onChange=${setIndexer(i, "enabled")} /> enabled</label><//>
        </div><button type="button" class="btn small" onClick=${() => setForm((f) => ({ ...f, indexers: f.indexers.filter((_, j) => j !== i) }))}>Remove indexer ${x.name || i + 1}</button></div>`)}
        <button type="button" class="btn" onClick=${() => setForm((f) => ({ ...f, indexers: [...f.indexers, { name: "", url: "", api_key: "", categories: "", enabled: true, requests_per_second: 1, cache_seconds: 900 }] }))}>Add an indexer</button>
      </fieldset>
      <fieldset class="panel"><legend>Quality preference (smart grab)</legend>
        <div class="form-grid">
          ${input("quality", "resolutions", "Resolutions, most wanted first", { hint: "e.g. 1080p, 720p" })}
          ${input("quality", "min_size", "Smallest file (MiB)", { hint: "empty: no bound" })}${input("quality", "max_size", "Largest file (MiB)", { hint: "empty: no bound" })}
          ${input("quality", "prefer_groups", "Release groups to prefer")}${input("quality", "avoid_groups", "Release groups to avoid")}
          ${input("quality", "prefer_sources", "Sources, most wanted first", { hint: "guessit's names: Web, Blu-ray, HDTV, DVD" })}
        </div></fieldset>
      <${ErrorNote} error=${failure} />
      <div class="form-actions"><button type="submit" class="btn primary" disabled=${busy}>${busy ? "Saving…" : "Save providers"}</button>
        <span class="muted small">Version ${d.version}</span></div>
    </form></section>`;
}
