// Activity log: filter, search, page, export (JSON lines / CSV), clear older than N days.
import { html, useState, useMemo, when, href, debounce } from "./lib.js";
import { request, api, can, session, url } from "./session.js";
import { toast } from "./live.js";
import { PageHead, Pager, ErrorNote, useAsync, useCursorPages, Empty } from "./ui.js";

export default function Activity() {
  const [filters, setFilters] = useState({ level: "", kind: "", q: "" });
  const [search, setSearch] = useState("");
  const [days, setDays] = useState("30");
  const key = JSON.stringify(filters);
  const pages = useCursorPages(key);
  const [tick, setTick] = useState(0);
  const push = useMemo(() => debounce((q) => setFilters((f) => ({ ...f, q })), 300), []);
  const { data, error } = useAsync(() => request("/activity", { query: { ...filters, per_page: 50, cursor: pages.cursor || undefined, page: pages.page > 1 ? pages.page : undefined } }).then((r) => r.data), [key, pages.cursor, tick]);
  const exportAs = async (format) => {
    try {
      const response = await fetch(url("/activity/export", { ...filters, format }), { headers: { Authorization: `Bearer ${session.get().access_token}` } });
      if (!response.ok) throw new Error(`the export failed (${response.status})`);
      const blob = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `haul-activity.${format === "csv" ? "csv" : "jsonl"}`;
      document.body.append(link); link.click(); link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 5000);
    } catch (e) { toast("error", "Export failed", e.message); }
  };
  const clear = async () => {
    try { const r = await api.del("/activity", { older_than_days: days }); toast("success", "Activity cleared", `${r.deleted} entries removed`); setTick((t) => t + 1); }
    catch (e) { toast("error", "Clear failed", e.message); }
  };
  const entries = (data && data.entries) || [];
  return html`<section class="view activity">
    <${PageHead} title="Activity">
      <button type="button" class="btn" onClick=${() => exportAs("jsonl")}>Export JSON lines</button>
      <button type="button" class="btn" onClick=${() => exportAs("csv")}>Export CSV</button><//>
    <div class="toolbar" role="search">
      <label class="search"><span class="sr-only">Search the activity</span><input type="search" placeholder="Search messages, kinds, people…" value=${search}
        onInput=${(e) => { setSearch(e.target.value); push(e.target.value.trim()); }} /></label>
      <label><span class="sr-only">Least level</span><select value=${filters.level} onChange=${(e) => setFilters({ ...filters, level: e.target.value })}>
        <option value="">Every level</option><option value="info">Info and above</option><option value="warning">Warnings and errors</option><option value="error">Errors</option></select></label>
      <label><span class="sr-only">Kind</span><select value=${filters.kind} onChange=${(e) => setFilters({ ...filters, kind: e.target.value })}>
        <option value="">Every kind</option><option value="task">Downloads</option><option value="batch">Batches</option><option value="queue">Queue</option><option value="settings">Settings</option><option value="user">Users</option></select></label>
      ${can("user") ? html`<span class="per-page">Clear older than <input type="number" min="1" value=${days} style=${{ width: "5rem" }} aria-label="Days" onInput=${(e) => setDays(e.target.value)} /> days
        <button type="button" class="btn small danger" onClick=${clear}>Clear</button></span>` : null}
    </div>
    <${ErrorNote} error=${error} />
    ${!data ? html`<p class="loading">Loading…</p>` : entries.length === 0 ? html`<${Empty}>No activity matches.<//>` : html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">When</th><th scope="col">Level</th><th scope="col">Who</th><th scope="col">What</th></tr></thead>
      <tbody>${entries.map((e) => html`<tr><td class="muted" style=${{ whiteSpace: "nowrap" }}>${when(e.at)}</td><td><span class="badge" data-state=${e.level === "error" ? "failed" : e.level === "warning" ? "paused" : ""}>${e.level}</span></td>
        <td>${e.actor}</td><td>${e.message}${e.task_id ? html` <a href=${href("download", [e.task_id])}>open</a>` : null}<div class="sub">${e.kind}</div></td></tr>`)}</tbody></table></div>`}
    ${data ? html`<div class="list-foot"><${Pager} page=${pages.page} hasNext=${Boolean(data.next_cursor)} total=${data.total} perPage=${50} onPrev=${pages.prev} onNext=${() => pages.next(data.next_cursor)} /></div>` : null}
  </section>`;
}
