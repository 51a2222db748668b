// Batches: their progress and counts; one batch's downloads and whole-batch actions.
import { html, useState, useEffect, useStore, bytes, ago, percent, href, navigate } from "./lib.js";
import { api, request, can } from "./session.js";
import { membership, toast } from "./live.js";
import { Progress, PageHead, Pager, Empty, ErrorNote, useAsync, useCursorPages, Badge, TaskActions, Dialog } from "./ui.js";
import { useLiveTask } from "./view-downloads.js";

function Counts({ b }) {
  return html`<span class="muted">${b.items} items · ${b.completed} done · ${b.active} active · ${b.failed} failed${b.cancelled ? ` · ${b.cancelled} cancelled` : ""}</span>`;
}

export default function Batches() {
  const pages = useCursorPages("batches");
  const changed = useStore(membership);
  const { data, error } = useAsync(() => request("/batches", { query: { per_page: 25, cursor: pages.cursor || undefined, page: pages.page > 1 ? pages.page : undefined } }).then((r) => r.data),
                                   [pages.cursor, changed]);
  const list = (data && data.batches) || [];
  return html`<section class="view batches">
    <${PageHead} title="Batches">${can("user") ? html`<a class="btn primary" href="#/add">New batch</a>` : null}<//>
    <${ErrorNote} error=${error} />
    ${!data ? html`<p class="loading">Loading…</p>` : list.length === 0 ? html`<${Empty}>No batches yet. Paste several URLs in <a href="#/add">Add</a> to make one.<//>`
      : html`<div class="table-wrap"><table><thead><tr><th scope="col">Batch</th><th scope="col">Progress</th><th scope="col">Items</th><th scope="col" class="num">Size</th><th scope="col">Created</th></tr></thead>
        <tbody>${list.map((b) => html`<tr><td><a class="name" href=${href("batch", [b.id])}>${b.name || b.id}</a></td>
          <td style=${{ minWidth: "160px" }}><${Progress} value=${b.progress} label=${`Progress of ${b.name || b.id}`} /> <span class="muted small">${percent(b.progress)}</span></td>
          <td><${Counts} b=${b} /></td><td class="num">${bytes(b.downloaded_bytes)} / ${bytes(b.total_bytes)}</td><td>${ago(b.created_at)}</td></tr>`)}</tbody></table></div>`}
    ${data ? html`<div class="list-foot"><${Pager} page=${pages.page} hasNext=${Boolean(data.next_cursor)} total=${data.total} perPage=${25} onPrev=${pages.prev} onNext=${() => pages.next(data.next_cursor)} /></div>` : null}
  </section>`;
}

function BatchRow({ task: initial }) {
  const task = useLiveTask(initial);
  return html`<tr><td><a class="name" href=${href("download", [task.id])}>${task.filename || task.url}</a></td><td><${Badge} state=${task.state} /></td>
    <td style=${{ minWidth: "140px" }}><${Progress} value=${task.progress} state=${task.state} label=${`Progress of ${task.filename}`} /></td>
    <td class="num">${bytes(task.total_bytes)}</td><td><${TaskActions} task=${task} compact /></td></tr>`;
}

export function BatchDetail({ args }) {
  const id = args[0] || "";
  const pages = useCursorPages(id);
  const changed = useStore(membership);
  const [tick, setTick] = useState(0);
  const [asking, setAsking] = useState(false);
  const { data, error } = useAsync(() => api.get(`/batches/${encodeURIComponent(id)}`, { per_page: 100, cursor: pages.cursor || undefined }), [id, pages.cursor, changed, tick]);
  const act = async (action) => {
    try { await api.post(`/batches/${encodeURIComponent(id)}/${action}`); toast("success", `Batch: ${action.replace("-", " ")}`, ""); setTick((t) => t + 1); }
    catch (e) { toast("error", `Batch ${action} failed`, e.message); }
  };
  const remove = async (withFiles) => {
    setAsking(false);
    try { await api.del(`/batches/${encodeURIComponent(id)}`, { delete_files: withFiles ? "true" : undefined }); toast("info", "Batch deleted", ""); navigate("batches"); }
    catch (e) { toast("error", "Delete failed", e.message); }
  };
  if (error) return html`<section class="view"><${PageHead} title="Batch" /><${ErrorNote} error=${error} /></section>`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  const b = data.batch;
  return html`<section class="view batch">
    <${PageHead} title=${b.name || b.id}>${can("user") ? html`
      <button type="button" class="btn" onClick=${() => act("pause")}>Pause all</button>
      <button type="button" class="btn" onClick=${() => act("resume")}>Resume all</button>
      <button type="button" class="btn" onClick=${() => act("retry-failed")}>Retry failed</button>
      <button type="button" class="btn danger" onClick=${() => setAsking(true)}>Delete batch</button>` : null}<//>
    <div class="panel"><${Progress} value=${b.progress} label="Batch progress" /><p>${percent(b.progress)} · <${Counts} b=${b} /> · ${bytes(b.downloaded_bytes)} of ${bytes(b.total_bytes)}</p></div>
    <div class="table-wrap"><table><thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col" class="num">Size</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${data.tasks.map((t) => html`<${BatchRow} key=${t.id} task=${t} />`)}</tbody></table></div>
    <div class="list-foot"><${Pager} page=${pages.page} hasNext=${Boolean(data.next_cursor)} total=${b.items} perPage=${100} onPrev=${pages.prev} onNext=${() => pages.next(data.next_cursor)} /></div>
    <${Dialog} open=${asking} title="Delete this batch?" onClose=${() => setAsking(false)}
      actions=${html`<button type="button" class="btn" onClick=${() => setAsking(false)}>Keep</button>
        <button type="button" class="btn danger" onClick=${() => remove(false)}>Delete downloads</button>
        <button type="button" class="btn danger" onClick=${() => remove(true)}>Delete with files</button>`}>
      <p>Every download of the batch is removed (running ones are cancelled first).</p><//>
  </section>`;
}
