// Shared by every module: Preact + htm, the page's configuration, formatting, a tiny store.
import { h, render, Fragment, createContext } from "./preact.js";
import { useState, useEffect, useRef, useMemo, useCallback, useContext, useLayoutEffect } from "./preact-hooks.js";
import htm from "./htm.js";

export const html = htm.bind(h);
export { h, render, Fragment, createContext, useState, useEffect, useRef, useMemo, useCallback, useContext, useLayoutEffect };

const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
export const CONFIG = { api: meta("haul-api"), ws: meta("haul-ws"), base: meta("haul-base"), static: meta("haul-static") };

// -- a store: one value, subscribers told of every change -----------------------------------
export function createStore(initial) {
  let value = initial;
  const subscribers = new Set();
  return {
    get: () => value,
    set(next) { value = typeof next === "function" ? next(value) : next; subscribers.forEach((fn) => fn(value)); },
    subscribe(fn) { subscribers.add(fn); return () => subscribers.delete(fn); },
  };
}

export function useStore(store) {
  const [value, setValue] = useState(store.get());
  useEffect(() => { setValue(store.get()); return store.subscribe(setValue); }, [store]);
  return value;
}

// -- formatting (every value ends up as text, never as HTML) --------------------------------
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
export function bytes(n) {
  if (n === null || n === undefined) return "—";
  let value = Number(n), unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0) : value} ${UNITS[unit]}`;
}
export const speed = (n) => (n ? `${bytes(n)}/s` : "—");
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
export function ago(iso) {
  if (!iso) return "—";
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 45) return RELATIVE.format(Math.round(seconds), "second");
  if (abs < 2700) return RELATIVE.format(Math.round(seconds / 60), "minute");
  if (abs < 79200) return RELATIVE.format(Math.round(seconds / 3600), "hour");
  return RELATIVE.format(Math.round(seconds / 86400), "day");
}
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
export const percent = (p) => `${(Number(p) || 0).toFixed(p >= 100 || p === 0 ? 0 : 1)} %`;

// -- routing: #/<view>/<arg>?query -----------------------------------------------------------
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [path, search = ""] = raw.split("?");
  const [view = "", ...args] = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { view, args, query: Object.fromEntries(new URLSearchParams(search)) };
}
export function href(view, args = [], query = {}) {
  const path = [view, ...args].map(encodeURIComponent).join("/");
  const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v !== undefined && v !== null)).toString();
  return `#/${path}${search ? `?${search}` : ""}`;
}
export const navigate = (view, args, query) => { location.hash = href(view, args, query); };
// Replace the query of the current route without a new history entry for each keystroke.
export function setQuery(query) {
  const { view, args } = parseHash();
  history.replaceState(null, "", href(view, args, query));
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function debounce(fn, ms) {
  let timer = null;
  const run = (...a) => { clearTimeout(timer); timer = setTimeout(() => fn(...a), ms); };
  run.cancel = () => clearTimeout(timer);
  return run;
}

// A debounced ask whose answers may come back out of order (a slow answer to an older edit must
// not replace the answer to the newest one): fn gets `current()` first, true only while its call
// is still the latest.
export function debounceLatest(fn, ms) {
  let timer = null;
  let latest = 0;
  const run = (...a) => {
    clearTimeout(timer);
    const mine = ++latest;
    timer = setTimeout(() => fn(() => mine === latest, ...a), ms);
  };
  run.cancel = () => { clearTimeout(timer); latest += 1; };
  return run;
}

// A download's metadata in a few words: "Breaking Bad (2008) · S01E02", "Daft Punk — One More Time".
export function metaLine(m) {
  if (!m) return "";
  if (m.artist_names) return `${m.artist_names.join(", ")} — ${m.track_name}${m.album_name ? ` (${m.album_name})` : ""}`;
  const pad = (n) => String(n).padStart(2, "0");
  const se = m.season != null && m.episode != null ? `S${pad(m.season)}E${pad(m.episode)}` : m.season != null ? `Season ${m.season}` : "";
  return [m.title ? `${m.title}${m.year ? ` (${m.year})` : ""}` : "", se, m.episode_title || ""].filter(Boolean).join(" · ");
}
