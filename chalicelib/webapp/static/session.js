// Signing in and staying signed in: tokens, silent refresh before they expire, and the one
// function every view calls the REST API with (errors come back as ApiError, in words).
import { CONFIG, createStore } from "./lib.js";

const KEY = "haul.session";
const load = () => { try { return JSON.parse(localStorage.getItem(KEY)); } catch (e) { return null; } };

// {access_token, refresh_token, expires_at (ms), lifetime (ms), user} or null
export const session = createStore(load());
// Why the sign-in form is shown (an expired session, a sign-out), in words.
export const notice = createStore("");

let timer = null;
function schedule() {
  clearTimeout(timer);
  const s = session.get();
  if (!s) return;
  // Refresh when three quarters of the token's life have passed (at most a minute early).
  const margin = Math.min(60000, (s.lifetime || 900000) / 4);
  timer = setTimeout(() => { refresh(); }, Math.max(1000, s.expires_at - Date.now() - margin));
}

function save(value) {
  if (value) localStorage.setItem(KEY, JSON.stringify(value)); else localStorage.removeItem(KEY);
  session.set(value);
  schedule();
}
schedule();
// Another tab refreshed or signed out: follow it.
window.addEventListener("storage", (event) => { if (event.key === KEY) { session.set(load()); schedule(); } });

function grant(data) {
  const lifetime = (data.expires_in || 900) * 1000;
  save({ access_token: data.access_token, refresh_token: data.refresh_token, expires_at: Date.now() + lifetime, lifetime, user: data.user });
}

export class ApiError extends Error {
  constructor(status, code, message, details = [], retryAfter = null) {
    super(message);
    this.status = status; this.code = code; this.details = details || []; this.retryAfter = retryAfter;
  }
  // The message of one field (a body field such as "url" or "transfer.part_size").
  field(name) {
    const hit = this.details.find((d) => d.field === name || (d.field || "").endsWith(`.${name}`));
    return hit ? hit.message : "";
  }
}

const FALLBACK = {
  400: "The request was not understood.", 401: "You are not signed in.", 403: "Your role does not allow this.",
  404: "It does not exist (or is not yours).", 409: "That is not possible in the current state.", 413: "That is too large.",
  422: "Some values are not valid.", 500: "Something went wrong on the server.", 502: "The server is not reachable.",
  503: "The server is busy.", 504: "The server took too long to answer.",
};

function errorFrom(response, data) {
  const retry = Number(response.headers.get("Retry-After")) || null;
  const envelope = data && data.error;
  let message = (envelope && envelope.message) || FALLBACK[response.status] || `The server answered ${response.status}.`;
  if (response.status === 429) message = `Too many attempts: ${message.replace(/[.]$/, "")}. Try again${retry ? ` in ${retry} s` : " in a moment"}.`;
  return new ApiError(response.status, (envelope && envelope.code) || `HTTP_${response.status}`, message,
                      (envelope && envelope.details) || [], retry);
}

export function url(path, query) {
  const target = new URL(CONFIG.api + path, location.href);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") target.searchParams.set(k, v);
  return target.toString();
}

export async function request(path, { method = "GET", body, query, auth = true, retried = false } = {}) {
  if (auth) await ensureFresh();
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const s = session.get();
  if (auth && s) headers.Authorization = `Bearer ${s.access_token}`;
  let response;
  try {
    response = await fetch(url(path, query), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "NETWORK", "Haul cannot be reached right now. Check that it is running; the page keeps trying.");
  }
  if (response.status === 401 && auth && s && !retried) {
    if (await refresh()) return request(path, { method, body, query, auth, retried: true });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!response.ok) {
    if (response.status === 401 && auth && s) expire("Your session has ended. Sign in again.");
    throw errorFrom(response, data);
  }
  return { data, headers: response.headers, status: response.status };
}

export const api = {
  get: (path, query) => request(path, { query }).then((r) => r.data),
  post: (path, body = {}, query) => request(path, { method: "POST", body, query }).then((r) => r.data),
  patch: (path, body, query) => request(path, { method: "PATCH", body, query }).then((r) => r.data),
  put: (path, body, query) => request(path, { method: "PUT", body, query }).then((r) => r.data),
  del: (path, query) => request(path, { method: "DELETE", query }).then((r) => r.data),
};

let refreshing = null;
export function refresh() {
  if (refreshing) return refreshing;
  const run = async () => {
    const current = load();
    if (!current) { if (session.get()) save(null); return false; }
    // Another tab may have refreshed while we waited for the lock.
    const mine = session.get();
    if (!mine || current.refresh_token !== mine.refresh_token) {
      if (current.expires_at - Date.now() > 30000) { session.set(current); schedule(); return true; }
    }
    try {
      const response = await fetch(url("/auth/refresh"), {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: current.refresh_token }),
      });
      if (response.ok) { grant(await response.json()); return true; }
      if ([400, 401, 403, 422].includes(response.status)) { expire("Your session has expired. Sign in again."); return false; }
    } catch (e) { /* offline: keep the session, try again later */ }
    clearTimeout(timer);
    timer = setTimeout(() => { refresh(); }, 10000);
    return false;
  };
  refreshing = (navigator.locks ? navigator.locks.request("haul-refresh", run) : run()).finally(() => { refreshing = null; });
  return refreshing;
}

export async function ensureFresh() {
  const s = session.get();
  if (s && s.expires_at - Date.now() < 15000) await refresh();
}

export function expire(message) { save(null); notice.set(message); }

export async function signIn(username, password) {
  const { data } = await request("/auth/login", { method: "POST", body: { username, password }, auth: false });
  notice.set("");
  grant(data);
}

export async function setUp(username, password, setupToken = "") {
  const body = setupToken ? { username, password, setup_token: setupToken } : { username, password };
  const { data } = await request("/auth/setup", { method: "POST", body, auth: false });
  notice.set("");
  grant(data);
}

// Your own new password: every other session of yours ends; this page continues with the new login.
export async function changePassword(current, next) {
  const data = await api.post("/auth/password", { current_password: current, new_password: next });
  grant(data);
}

export async function signOut() {
  try { await request("/auth/logout", { method: "POST", body: {} }); } catch (e) { /* the session ends here anyway */ }
  save(null);
  notice.set("You are signed out.");
}

export const role = () => ((session.get() || {}).user || {}).role || "viewer";
const RANK = { viewer: 0, user: 1, admin: 2 };
export const can = (least) => RANK[role()] >= RANK[least];
