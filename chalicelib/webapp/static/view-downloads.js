// Downloads: a page of the API's list (filters, search, sort, cursors), each row kept live by
// the WebSocket; per-row actions, multi-select with bulk actions. A table on wide screens, cards
// on narrow ones (the same markup, laid out by CSS).
import { Component } from "./preact.js";
import { html, useState, useEffect, useMemo, bytes, speed, duration, ago, percent, href, setQuery, debounce, metaLine } from "./lib.js";
import { request, api, can } from "./session.js";
import { tasks, membership, toast, watchTask } from "./live.js";
import { Progress, Badge, TaskActions, Pager, PageHead, Empty, ErrorNote, STATES, LABEL, DeleteDialog, Icon, useCursorPages } from "./ui.js";

const PER_PAGE = [25, 50, 100, 200, 500];
const SORTS = { "-created_at": "Newest first", created_at: "Oldest first", queue: "Queue order" };
const FILTERS = ["status", "q", "category", "tag", "batch_id", "sort", "per_page"];

export function useLiveTask(task) {
  const id = task && task.id;
  const [live, setLive] = useState(() => id && tasks.get().map.get(id));
  useEffect(() => {
    if (!id) return undefined;
    setLive(tasks.get().map.get(id));
    return watchTask(id, () => setLive(tasks.get().map.get(id)));
  }, [id]);
  return live || task;
}

function Row({ task: initial, selected, onSelect }) {
  const task = useLiveTask(initial);
  const name = task.filename || task.url;
  return html`<tr class="row" data-state=${task.state} data-id=${task.id}>
    <td class="c-select">${can("user") ? html`<input type="checkbox" checked=${selected} onChange=${(e) => onSelect(task.id, e.target.checked)}
      aria-label=${`Select ${name}`} />` : null}</td>
    <td class="c-name"><a class="name" href=${href("download", [task.id])}>${name}</a>
      <div class="sub">${task.host || ""}${task.batch_name ? html` · <a href=${href("batch", [task.batch_id])}>${task.batch_name}</a>` : null}
        ${task.category ? html` · <span class="chip">${task.category}</span>` : null}
        ${(task.tags || []).map((t) => html` <span class="chip tag">${t}</span>`)}</div>
      ${task.metadata ? html`<div class="sub meta-line">${metaLine(task.metadata)}</div>` : null}
      ${task.error ? html`<div class="row-error">${task.error}</div>` : null}</td>
    <td class="c-state"><${Badge} state=${task.state} /></td>
    <td class="c-progress"><${Progress} value=${task.progress} state=${task.state} label=${`Progress of ${name}`} />
      <span class="pct">${percent(task.progress)}</span></td>
    <td class="c-size num">${task.total_bytes ? `${bytes(task.downloaded_bytes)} / ${bytes(task.total_bytes)}` : bytes(task.downloaded_bytes)}</td>
    <td class="c-speed num">${task.state === "downloading" ? speed(task.speed) : "—"}</td>
    <td class="c-eta num">${task.state === "downloading" ? duration(task.eta) : "—"}</td>
    <td class="c-added" title=${task.created_at}>${ago(task.created_at)}</td>
    <td class="c-actions"><${TaskActions} task=${task} compact /></td>
  </tr>`;
}

// A row renders again when its download or its selection changed, not whenever the page does
// (its live figures come from watchTask); 500 rows re-rendered per refetch would be a long task.
class PageRow extends Component {
  shouldComponentUpdate(next) {
    const [a, b] = [this.props.task, next.task];
    return this.props.selected !== next.selected || a.id !== b.id || a.updated_at !== b.updated_at || a.state !== b.state;
  }
  render(props) { return html`<${Row} ...${props} />`; }
}

function BulkBar({ ids, onDone }) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const run = async (action, withFile = false) => {
    setBusy(true);
    try {
      const answer = await api.post("/downloads/bulk", { action, ids, delete_file: withFile });
      const failed = (answer.results || []).filter((r) => !r.ok);
      toast(failed.length ? "error" : "success", `${LABEL[action]}: ${ids.length - failed.length} of ${ids.length} done`,
            failed.length ? failed.slice(0, 3).map((r) => (r.error && r.error.message) || r.id).join("; ") : "");
      onDone(action);
    } catch (error) { toast("error", `${LABEL[action]} failed`, error.message); }
    finally { setBusy(false); }
  };
  return html`<div class="bulkbar" role="region" aria-label="Selected downloads">
    <strong>${ids.length} selected</strong>
    ${["pause", "resume", "retry", "cancel"].map((a) => html`<button type="button" class="btn small" disabled=${busy} onClick=${() => run(a)}>${LABEL[a]}</button>`)}
    <button type="button" class="btn small danger" disabled=${busy} onClick=${() => setAsking(true)}>Delete</button>
    <button type="button" class="btn small ghost" onClick=${() => onDone("clear")}>Clear selection</button>
    <${DeleteDialog} open=${asking} count=${ids.length} onClose=${() => setAsking(false)} onConfirm=${(f) => { setAsking(false); run("delete", f); }} />
  </div>`;
}

export default function Downloads({ query }) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, query[k] || ""]));
  const perPage = Number(filters.per_page) || 50;
  const key = JSON.stringify(filters);
  const pages = useCursorPages(key);
  const [state, setState] = useState({ rows: null, total: null, next: null, error: null });
  const [selected, setSelected] = useState(new Set());
  const [search, setSearch] = useState(filters.q);
  const [tick, setTick] = useState(0);

  useEffect(() => setSearch(filters.q), [filters.q]);
  const pushSearch = useMemo(() => debounce((q) => setQuery({ ...filtersNow(), q }), 300), []);
  function filtersNow() { return Object.fromEntries(FILTERS.map((k) => [k, (new URLSearchParams(location.hash.split("?")[1] || "")).get(k) || ""])); }

  // The page: fetched again when the filters or the page change, and when downloads were
  // added, removed or changed state (from the WebSocket: no polling), at most every 400 ms.
  const refetch = useMemo(() => debounce(() => setTick((t) => t + 1), 400), []);
  // (Subscribed without a state: a change does not re-render the page's rows, the refetch does.)
  useEffect(() => membership.subscribe(() => refetch()), []);
  useEffect(() => () => refetch.cancel(), []);
  useEffect(() => {
    let alive = true;
    const q = { status: filters.status, q: filters.q, category: filters.category, tag: filters.tag, batch_id: filters.batch_id,
                sort: filters.sort || undefined, per_page: perPage, cursor: pages.cursor || undefined, page: pages.page > 1 ? pages.page : undefined };
    request("/downloads", { query: q }).then(({ data, headers }) => {
      if (!alive) return;
      const total = headers.get("X-Total-Count");
      setState({ rows: data.tasks, total: total === null ? data.total : Number(total), next: data.next_cursor, error: null });
    }, (error) => alive && setState((s) => ({ ...s, error })));
    return () => { alive = false; };
  }, [key, pages.cursor, pages.page, tick]);

  const set = (name, value) => setQuery({ ...filters, [name]: value });
  const onSelect = (id, on) => setSelected((s) => { const n = new Set(s); if (on) n.add(id); else n.delete(id); return n; });
  const rows = state.rows || [];
  const allOnPage = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const selectAll = (on) => setSelected((s) => { const n = new Set(s); rows.forEach((r) => (on ? n.add(r.id) : n.delete(r.id))); return n; });
  const ids = [...selected];

  return html`<section class="view downloads">
    <${PageHead} title="Downloads">
      ${can("user") ? html`<a class="btn primary" href="#/add"><${Icon} name="add" /><span>Add downloads</span></a>` : null}
    <//>
    <div class="toolbar" role="search">
      <label class="search"><span class="sr-only">Search by file name or URL</span>
        <input type="search" placeholder="Search name or URL…" value=${search}
          onInput=${(e) => { setSearch(e.target.value); pushSearch(e.target.value.trim()); }} /></label>
      <label><span class="sr-only">State</span><select value=${filters.status} onChange=${(e) => set("status", e.target.value)}>
        <option value="">All states</option>${STATES.map((s) => html`<option value=${s}>${s[0].toUpperCase() + s.slice(1)}</option>`)}
        <option value="queued,downloading,paused">Active</option><option value="completed,failed,cancelled">Finished</option></select></label>
      <label><span class="sr-only">Sort</span><select value=${filters.sort || "-created_at"} onChange=${(e) => set("sort", e.target.value)}>
        ${Object.entries(SORTS).map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select></label>
      <details class="more-filters" open=${Boolean(filters.category || filters.tag || filters.batch_id)}>
        <summary>More filters</summary>
        <div class="filter-grid">
          <label>Category <input value=${filters.category} onChange=${(e) => set("category", e.target.value.trim())} /></label>
          <label>Tag <input value=${filters.tag} onChange=${(e) => set("tag", e.target.value.trim())} /></label>
          <label>Batch id <input value=${filters.batch_id} onChange=${(e) => set("batch_id", e.target.value.trim())} /></label>
        </div></details>
    </div>
    ${ids.length ? html`<${BulkBar} ids=${ids} onDone=${(a) => { if (a === "clear" || a === "delete") setSelected(new Set()); refetch(); }} />` : null}
    <${ErrorNote} error=${state.error} />
    ${state.rows === null ? html`<p class="loading">Loading downloads…</p>` : rows.length === 0
      ? html`<${Empty}>${Object.values(filters).some(Boolean) ? "No download matches these filters." : html`No downloads yet. ${can("user") ? html`<a href="#/add">Add your first one</a>.` : null}`}<//>`
      : html`<div class="table-wrap"><table class="tasks">
        <caption class="sr-only">Downloads, page ${pages.page}</caption>
        <thead><tr>
          <th class="c-select" scope="col">${can("user") ? html`<input type="checkbox" checked=${allOnPage} onChange=${(e) => selectAll(e.target.checked)} aria-label="Select every download on this page" />` : html`<span class="sr-only">Select</span>`}</th>
          <th scope="col">Name</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col" class="num">Size</th>
          <th scope="col" class="num">Speed</th><th scope="col" class="num">ETA</th><th scope="col">Added</th><th scope="col"><span class="sr-only">Actions</span></th>
        </tr></thead>
        <tbody>${rows.map((t) => html`<${PageRow} key=${t.id} task=${t} selected=${selected.has(t.id)} onSelect=${onSelect} />`)}</tbody>
      </table></div>`}
    <div class="list-foot">
      <${Pager} page=${pages.page} hasNext=${Boolean(state.next)} total=${state.total} perPage=${perPage}
        onPrev=${pages.prev} onNext=${() => pages.next(state.next)} />
      <label class="per-page">Per page <select value=${perPage} onChange=${(e) => set("per_page", e.target.value)}>
        ${PER_PAGE.map((n) => html`<option value=${n}>${n}</option>`)}</select></label>
    </div>
  </section>`;
}
