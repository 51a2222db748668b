// Components the views share: progress bars, state badges, actions, dialogs, fields, pagers.
import { html, useState, useEffect, useRef, useCallback, percent } from "./lib.js";
import { api, can } from "./session.js";
import { toast } from "./live.js";

export const STATES = ["queued", "downloading", "paused", "completed", "failed", "cancelled"];
const ACTIONS = {
  queued: ["pause", "cancel"], downloading: ["pause", "cancel"], paused: ["resume", "cancel"],
  failed: ["retry"], cancelled: ["retry"], completed: [],
};
export const actionsFor = (state) => ACTIONS[state] || [];
export const LABEL = { pause: "Pause", resume: "Resume", retry: "Retry", cancel: "Cancel", delete: "Delete" };

export function Progress({ value, state, label }) {
  const v = Math.max(0, Math.min(100, Number(value) || 0));
  return html`<div class="progress" data-state=${state} role="progressbar" aria-label=${label || "Progress"}
      aria-valuemin="0" aria-valuemax="100" aria-valuenow=${v.toFixed(1)} aria-valuetext=${percent(v)}>
    <div class="progress-fill" style=${{ width: `${v}%` }}></div></div>`;
}

export const Badge = ({ state }) => html`<span class="badge" data-state=${state}>${state}</span>`;

export function useAsync(fn, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then((data) => alive && setState({ data, error: null, loading: false }),
              (error) => alive && setState({ data: null, error, loading: false }));
    return () => { alive = false; };
  }, [...deps, tick]);
  return { ...state, reload: useCallback(() => setTick((t) => t + 1), []) };
}

export const ErrorNote = ({ error }) => (error ? html`<p class="error-note" role="alert">${error.message || String(error)}</p>` : null);

export function Field({ label, error, hint, id, children }) {
  return html`<div class=${`field${error ? " invalid" : ""}`}>
    <label for=${id}>${label}</label>${children}
    ${hint && !error ? html`<small class="hint" id=${`${id}-hint`}>${hint}</small>` : null}
    ${error ? html`<small class="field-error" id=${`${id}-error`} role="alert">${error}</small>` : null}</div>`;
}

export function Dialog({ open, title, onClose, children, actions }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} class="dialog" aria-label=${title} onClose=${onClose} onCancel=${onClose}>
    <form method="dialog" class="dialog-body" onSubmit=${(e) => e.preventDefault()}>
      <h2>${title}</h2>${children}<div class="dialog-actions">${actions}</div></form></dialog>`;
}

// Delete with "delete the file too": used by a row, the detail view and the bulk bar.
export function DeleteDialog({ open, count, onClose, onConfirm }) {
  const [withFile, setWithFile] = useState(false);
  useEffect(() => { if (open) setWithFile(false); }, [open]);
  return html`<${Dialog} open=${open} title=${count > 1 ? `Delete ${count} downloads?` : "Delete this download?"} onClose=${onClose}
    actions=${html`<button type="button" class="btn" onClick=${onClose}>Keep</button>
      <button type="button" class="btn danger" onClick=${() => onConfirm(withFile)}>Delete</button>`}>
    <p>A running download is cancelled first.</p>
    <label class="check"><input type="checkbox" checked=${withFile} onChange=${(e) => setWithFile(e.target.checked)} /> Delete the stored file too</label>
  <//>`;
}

// Per-download actions (pause / resume / retry / cancel / delete), hidden from viewers.
export function TaskActions({ task, compact, onDeleted }) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  if (!can("user")) return null;
  const run = async (action) => {
    setBusy(true);
    try { await api.post(`/downloads/${encodeURIComponent(task.id)}/${action}`); }
    catch (error) { toast("error", `${LABEL[action]} failed`, error.message); }
    finally { setBusy(false); }
  };
  const remove = async (withFile) => {
    setAsking(false);
    setBusy(true);
    try {
      await api.del(`/downloads/${encodeURIComponent(task.id)}`, { delete_file: withFile ? "true" : undefined });
      toast("info", "Deleted", `${task.filename}${withFile ? " and its file" : ""}`);
      if (onDeleted) onDeleted();
    } catch (error) { toast("error", "Delete failed", error.message); }
    finally { setBusy(false); }
  };
  const name = task.filename || task.url;
  return html`<div class=${`actions${compact ? " compact" : ""}`}>
    ${actionsFor(task.state).map((a) => html`<button type="button" class=${`btn small act-${a}`} disabled=${busy}
        aria-label=${`${LABEL[a]} ${name}`} title=${LABEL[a]} onClick=${() => run(a)}>
        <span class="icon" aria-hidden="true">${ICON[a]}</span><span class="label">${LABEL[a]}</span></button>`)}
    <button type="button" class="btn small act-delete" disabled=${busy} aria-label=${`Delete ${name}`} title="Delete"
      onClick=${() => setAsking(true)}><span class="icon" aria-hidden="true">${ICON.delete}</span><span class="label">Delete</span></button>
    <${DeleteDialog} open=${asking} count=${1} onClose=${() => setAsking(false)} onConfirm=${remove} />
  </div>`;
}
// Icons: simple strokes on a 24-unit grid (drawn for Haul), always next to a text label.
const PATHS = {
  downloads: "M12 3v12m-5-5 5 5 5-5M4 19h16", add: "M12 5v14M5 12h14", batches: "M4 5h16v5H4zM4 14h16v5H4z",
  queue: "M4 6h11M4 12h11M4 18h11M19 9v9m-2.5-2.5L19 18l2.5-2.5", stats: "M5 20V11M11 20V5M17 20v-6M3 20h18",
  activity: "M3 12h4l3-7 4 14 3-7h4", settings: "M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM12 2v3m0 14v3M2 12h3m14 0h3M5 5l2 2m10 10 2 2M5 19l2-2M17 7l2-2",
  users: "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21a7 7 0 0 1 14 0M16 4a4 4 0 0 1 0 7m6 10a6 6 0 0 0-4-5.6",
  account: "M15 3a6 6 0 1 0 0 12 6 6 0 0 0 0-12zM10.8 13.2 3 21m3-3 3 3m-1-5 3 3",
  pause: "M8 5v14M16 5v14", resume: "M7 4l13 8-13 8z", retry: "M20 12a8 8 0 1 1-2.3-5.7M20 4v5h-5",
  cancel: "M6 6l12 12M18 6 6 18", delete: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13", sun: "M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8zM12 2v2m0 16v2M2 12h2m16 0h2M5 5l1.5 1.5m11 11L19 19M5 19l1.5-1.5m11-11L19 5",
  moon: "M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z", logout: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10", menu: "M4 6h16M4 12h16M4 18h16",
  file: "M6 2h8l4 4v16H6zM14 2v4h4", top: "M6 4h12M12 20V8m-5 5 5-5 5 5", bottom: "M6 20h12M12 4v12m-5-5 5 5 5-5",
  up: "M12 19V5m-6 6 6-6 6 6", feeds: "M5 18.5a.5.5 0 1 0 0 .01M4 11a9 9 0 0 1 9 9M4 4a16 16 0 0 1 16 16", down: "M12 5v14m-6-6 6 6 6-6", bell: "M6 17V11a6 6 0 0 1 12 0v6l2 2H4zM10 21h4",
  jobs: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v5l3 3", health: "M3 12h4l2-4 4 8 2-4h6",
  search: "M10.5 4a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM20 20l-4.8-4.8",
  providers: "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3",
  library: "M4 4h4v16H4zM10 4h4v16h-4zM16 5l4 1-3 14-4-1z",
};
export const Icon = ({ name }) => html`<svg class="i" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d=${PATHS[name] || ""} /></svg>`;
export const ICON = Object.fromEntries(["pause", "resume", "retry", "cancel", "delete"].map((n) => [n, html`<${Icon} name=${n} />`]));

// Previous / next over an API list that answers next_cursor (cursors of the pages seen are kept).
export function Pager({ page, hasNext, onPrev, onNext, total, perPage }) {
  const pages = total !== undefined && total !== null ? Math.max(1, Math.ceil(total / perPage)) : null;
  return html`<nav class="pager" aria-label="Pages">
    <button type="button" class="btn small" disabled=${page <= 1} onClick=${onPrev}>← Previous</button>
    <span>Page ${page}${pages ? ` of ${pages}` : ""}${total !== undefined && total !== null ? ` · ${total} in all` : ""}</span>
    <button type="button" class="btn small" disabled=${!hasNext} onClick=${onNext}>Next →</button></nav>`;
}

// A cursor-paged list: page number, the cursor of each page, and how to move.
export function useCursorPages(key) {
  const [cursors, setCursors] = useState([null]);
  useEffect(() => setCursors([null]), [key]);
  const page = cursors.length;
  return {
    page, cursor: cursors[cursors.length - 1],
    next: (cursor) => cursor && setCursors((c) => [...c, cursor]),
    prev: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
  };
}

export const Empty = ({ children }) => html`<div class="empty">${children}</div>`;

export function PageHead({ title, children }) {
  return html`<header class="page-head"><h1 tabindex="-1" class="page-title">${title}</h1><div class="page-tools">${children}</div></header>`;
}
