// The WebSocket (docs/websocket.md): the downloads room's snapshot then its changes, engine
// statistics, notifications. Reconnects by itself with backoff and resynchronises from a fresh
// snapshot; views read the stores below and never poll.
import { CONFIG, createStore } from "./lib.js";
import { session, ensureFresh } from "./session.js";

// {state: "connecting" | "live" | "reconnecting" | "offline", retryAt (ms) | null, since}
export const connection = createStore({ state: "offline", retryAt: null });
// The user's downloads by id, and a version bumped on every change.
export const tasks = createStore({ map: new Map(), version: 0, synced: false });
// Bumped when the set of downloads (or a state) changed: lists refetch their page then.
export const membership = createStore(0);
export const engine = createStore(null);
export const toasts = createStore([]);

let socket = null, attempt = 0, retryTimer = null, pingTimer = null, pending = null, wanted = false;

export function toast(level, title, message, link) {
  const id = Math.random().toString(36).slice(2);
  toasts.set((list) => [...list.slice(-4), { id, level, title, message, link }]);
  setTimeout(() => dismiss(id), level === "error" ? 12000 : 7000);
}
export const dismiss = (id) => toasts.set((list) => list.filter((t) => t.id !== id));

function browserNotification(data) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try { new Notification(data.title, { body: data.message, tag: data.task_id }); } catch (e) { /* not allowed here */ }
}

// Per-download listeners: a change wakes only the rows showing that download, so the cost of
// a change does not grow with the number of downloads in the store or rows on the page.
const watchers = new Map();
const touched = new Set();
export function watchTask(id, fn) {
  if (!watchers.has(id)) watchers.set(id, new Set());
  watchers.get(id).add(fn);
  return () => { const set = watchers.get(id); if (set) { set.delete(fn); if (!set.size) watchers.delete(id); } };
}
function wake(ids) {
  for (const id of ids) for (const fn of watchers.get(id) || []) fn();
}

const newer = (a, b) => !b || !a || !b.updated_at || !a.updated_at || a.updated_at >= b.updated_at;

function apply(message, map) {
  switch (message.type) {
    case "TASK_ADDED":
      map.set(message.task.id, message.task);
      touched.add(message.task.id);
      return true;
    case "TASK_UPDATED": {
      const old = map.get(message.task.id);
      if (old && !newer(message.task, old)) return false;
      map.set(message.task.id, { ...old, ...message.task });
      touched.add(message.task.id);
      return Boolean(message.previous_state) || !old;
    }
    case "TASK_BATCH_UPDATE":
      for (const part of message.tasks || []) {
        const old = map.get(part.id);
        if (old && newer(part, old)) { map.set(part.id, { ...old, ...part }); touched.add(part.id); }
      }
      return false;
    case "TASK_REMOVED":
      map.delete(message.task_id);
      touched.add(message.task_id);
      return true;
    default:
      return false;
  }
}

function publish(changedMembership) {
  const current = tasks.get();
  tasks.set({ map: current.map, version: current.version + 1, synced: current.synced });
  const ids = [...touched];
  touched.clear();
  wake(ids);
  if (changedMembership) membership.set((n) => n + 1);
}

function onMessage(event) {
  let message;
  try { message = JSON.parse(event.data); } catch (e) { return; }
  switch (message.type) {
    case "SYNC_ALL": {
      if (!pending || pending.id !== message.snapshot_id) pending = { id: message.snapshot_id, map: new Map(), events: [] };
      for (const task of message.tasks || []) pending.map.set(task.id, task);
      if (message.complete) {
        const map = pending.map;
        for (const queued of pending.events) apply(queued, map);
        pending = null;
        tasks.set({ map, version: tasks.get().version + 1, synced: true });
        touched.clear();
        wake([...watchers.keys()]);
        membership.set((n) => n + 1);
        connection.set({ state: "live", retryAt: null, since: Date.now() });
        attempt = 0;
      }
      return;
    }
    case "TASK_ADDED": case "TASK_UPDATED": case "TASK_BATCH_UPDATE": case "TASK_REMOVED":
      if (pending) { pending.events.push(message); return; }
      publish(apply(message, tasks.get().map));
      return;
    case "ENGINE_STATS":
      engine.set(message.stats);
      return;
    case "notification": {
      const data = message.data || {};
      toast(data.level === "error" ? "error" : "success", data.title || "Download", data.message || data.filename || "",
            data.task_id ? `#/download/${encodeURIComponent(data.task_id)}` : null);
      browserNotification(data);
      return;
    }
    case "feed_matched":  // the feeds room (docs/feeds.md)
      toast("success", `Feed ${message.feed_name}`, `${message.count} new item(s) enqueued`, `#/feed/${encodeURIComponent(message.feed_id)}`);
      return;
    case "feed_failed":
      toast("error", `Feed ${message.feed_name}`, message.error || "refresh failed", `#/feed/${encodeURIComponent(message.feed_id)}`);
      return;
    default:
  }
}

async function open() {
  clearTimeout(retryTimer);
  if (!wanted || !CONFIG.ws) { connection.set({ state: "offline", retryAt: null }); return; }
  await ensureFresh();
  const s = session.get();
  if (!s) { connection.set({ state: "offline", retryAt: null }); return; }
  connection.set({ state: attempt ? "reconnecting" : "connecting", retryAt: null });
  const ws = new WebSocket(`${CONFIG.ws}?token=${encodeURIComponent(s.access_token)}`);
  socket = ws;
  ws.onopen = () => {
    ws.send(JSON.stringify({ action: "subscribe", rooms: ["downloads", "stats", "feeds"], id: "app" }));
    clearInterval(pingTimer);
    pingTimer = setInterval(() => { if (ws.readyState === 1) ws.send(JSON.stringify({ action: "ping" })); }, 240000);
  };
  ws.onmessage = onMessage;
  ws.onclose = () => {
    clearInterval(pingTimer);
    if (socket !== ws) return;
    socket = null;
    pending = null;
    if (!wanted) { connection.set({ state: "offline", retryAt: null }); return; }
    // Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... at most 15 s.
    const delay = Math.min(15000, 500 * 2 ** attempt) * (0.6 + Math.random() * 0.4);
    attempt += 1;
    connection.set({ state: "reconnecting", retryAt: Date.now() + delay });
    retryTimer = setTimeout(open, delay);
  };
}

export function start() { wanted = true; attempt = 0; if (!socket) open(); }
export function stop() {
  wanted = false;
  clearTimeout(retryTimer);
  if (socket) { const ws = socket; socket = null; ws.close(); }
  tasks.set({ map: new Map(), version: 0, synced: false });
  engine.set(null);
  connection.set({ state: "offline", retryAt: null });
}
export function reconnectNow() { if (wanted && !socket) { attempt = 0; open(); } }
window.addEventListener("online", reconnectNow);
// A new access token: connections keep the identity they opened with, so nothing to redo.
session.subscribe((s) => { if (!s) stop(); });
