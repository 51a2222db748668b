// Library (docs/library.md): your series and films (completed downloads with a TMDB id), each
// with its NFO and artwork in its folder; write the NFO (POST /library/{kind}/{id}/nfo), write
// it again with TMDB's current data (PUT), read it (GET …/nfo/content, shown as text), and
// write every missing one at once (POST /library/nfo/batch). Titles and XML render as text.
import { html, useState, when } from "./lib.js";
import { api, can } from "./session.js";
import { toast } from "./live.js";
import { PageHead, ErrorNote, Empty, useAsync } from "./ui.js";

const path = (t) => `/library/${t.kind}/${t.tmdb_id}/nfo`;
const name = (t) => `${t.title || `TMDB ${t.tmdb_id}`}${t.year ? ` (${t.year})` : ""}`;

function Art({ media }) {
  if (!media) return html`<span class="muted small">—</span>`;
  const parts = [["poster", media.has_poster], ["fanart", media.has_fanart], ["logo", media.has_logo]];
  return html`<span class="small">${parts.map(([label, has]) => html`<span class=${has ? "" : "muted"}>${has ? "✓" : "✗"} ${label} </span>`)}</span>`;
}

function Row({ t, busy, onWrite, onShow }) {
  return html`<tr data-testid="library-row" data-tmdb=${t.tmdb_id}>
    <td><span class="name">${name(t)}</span><div class="muted small">${t.kind === "tv" ? "series" : "film"} · TMDB ${t.tmdb_id}</div></td>
    <td class="small">${t.folder ? html`<code>${t.folder}</code>` : html`<span class="muted">${t.reason || "no folder"}</span>`}</td>
    <td>${t.has_nfo ? html`<span class="badge" data-state="completed">NFO</span>` : html`<span class="badge" data-state="paused">no NFO</span>`}</td>
    <td><${Art} media=${t.media_files} /></td>
    <td><div class="actions">${t.folder && can("user") ? html`<button type="button" class="btn" disabled=${busy}
        onClick=${() => onWrite(t)}>${t.has_nfo ? "Refresh NFO" : "Write NFO"}</button>` : null}
      ${t.has_nfo ? html` <button type="button" class="btn" onClick=${() => onShow(t)}>Show NFO</button>` : null}</div></td>
  </tr>`;
}

export default function LibraryView() {
  const titles = useAsync(() => api.get("/library", { limit: 200 }), []);
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const [shown, setShown] = useState(null);
  const [batch, setBatch] = useState(null);

  const write = async (t) => {
    setBusy(t.tmdb_id); setError(null);
    try {
      const done = t.has_nfo ? await api.put(path(t), {}) : await api.post(path(t), {});
      toast("info", `NFO written: ${name(t)}`, done.warnings.length ? done.warnings.slice(0, 2).join("; ")
        : `${done.written.length} file(s) written${done.queued_seasons.length ? "; more in the background" : ""}`);
      titles.reload();
    } catch (e) { setError(e); }
    setBusy(null);
  };
  const show = async (t) => {
    setError(null);
    try { setShown({ t, nfo: await api.get(`${path(t)}/content`) }); } catch (e) { setError(e); }
  };
  const writeMissing = async () => {
    const items = (titles.data ? titles.data.titles : []).filter((t) => !t.has_nfo && t.folder)
      .slice(0, 100).map((t) => ({ kind: t.kind, tmdb_id: t.tmdb_id }));
    setBusy("all"); setError(null); setBatch(null);
    try { setBatch(await api.post("/library/nfo/batch", { items })); titles.reload(); } catch (e) { setError(e); }
    setBusy(null);
  };

  const list = titles.data ? titles.data.titles : [];
  const missing = list.filter((t) => !t.has_nfo && t.folder).length;
  return html`<section class="view library">
    <${PageHead} title="Library">
      ${can("user") && missing ? html`<button type="button" class="btn primary" disabled=${busy !== null}
        onClick=${writeMissing}>${busy === "all" ? "Writing…" : `Write ${missing} missing NFO${missing === 1 ? "" : "s"}`}</button>` : null}<//>
    <${ErrorNote} error=${titles.error || error} />
    ${batch ? html`<p class="notice" role="status" data-testid="library-batch">${
      `${batch.created} written, ${batch.skipped} skipped, ${batch.failed} failed${batch.queued ? `, ${batch.queued} continuing in the background` : ""}.`}</p>` : null}
    ${titles.loading && !titles.data ? html`<p class="muted">Loading…</p>`
      : list.length ? html`<div class="table-wrap"><table>
          <caption class="sr-only">Your series and films</caption>
          <thead><tr><th scope="col">Title</th><th scope="col">Folder</th><th scope="col">NFO</th><th scope="col">Artwork</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${list.map((t) => html`<${Row} key=${`${t.kind}-${t.tmdb_id}`} t=${t} busy=${busy !== null} onWrite=${write} onShow=${show} />`)}</tbody>
        </table>${titles.data.truncated ? html`<p class="muted small">Only the newest 200 titles are shown.</p>` : null}</div>`
      : titles.data ? html`<${Empty}>No series or films yet: downloads with a TMDB id (smart grab gives them one) appear here once completed.<//>` : null}
    ${shown ? html`<div class="panel" data-testid="library-nfo"><h2>${shown.nfo.nfo_key}</h2>
        <p class="muted small">${shown.nfo.file_size} bytes · written ${when(shown.nfo.last_modified)}</p>
        <pre class="nfo-content" tabindex="0" aria-label="The NFO file">${shown.nfo.content}</pre>
        <div class="form-actions"><button type="button" class="btn" onClick=${() => setShown(null)}>Close</button></div></div>` : null}
  </section>`;
}
