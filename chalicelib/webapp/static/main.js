// The shell: first-run setup, sign-in, navigation, the connection state, toasts, the router.
import { html, render, useState, useEffect, useRef, useStore, parseHash, speed, CONFIG } from "./lib.js";
import { session, notice, signIn, setUp, signOut, request, can } from "./session.js";
import { connection, engine, toasts, dismiss, start as startLive, reconnectNow } from "./live.js";
import { VIEWS, DEFAULT_VIEW } from "./views.js";
import { Icon, Field } from "./ui.js";
import { SetupChecks } from "./setup-checks.js";

// -- theme: follows the system unless chosen ----------------------------------------------------
const THEME_KEY = "haul.theme";
function applyTheme(theme) {
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem(THEME_KEY));
const currentTheme = () => document.documentElement.dataset.theme
  || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");

function ThemeToggle() {
  const [, setTick] = useState(0);
  const dark = currentTheme() === "dark";
  const toggle = () => {
    const next = dark ? "light" : "dark";
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
    setTick((t) => t + 1);
  };
  return html`<button type="button" class="btn ghost icon-only" onClick=${toggle} aria-pressed=${dark}
    aria-label="Dark theme" title=${dark ? "Switch to the light theme" : "Switch to the dark theme"}><${Icon} name=${dark ? "sun" : "moon"} /></button>`;
}

// -- first run and sign-in ------------------------------------------------------------------------
function AuthForm({ setup, needsToken }) {
  const [username, setUsername] = useState("");
  const [token, setToken] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const message = useStore(notice);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    if (setup && password !== confirm) { setError({ message: "The two passwords differ.", field: () => "" }); return; }
    setBusy(true);
    try { await (setup ? setUp(username, password, needsToken ? token.trim() : "") : signIn(username, password)); }
    catch (e) { setError(e); }
    finally { setBusy(false); }
  };
  const fieldError = (name) => (error && error.field ? error.field(name) : "");
  return html`<main class="auth" id="main">
    <form class="auth-card" onSubmit=${submit} aria-labelledby="auth-title" novalidate>
      <div class="brand big"><span class="logo" aria-hidden="true"><${Icon} name="downloads" /></span> Haul</div>
      <h1 id="auth-title">${setup ? "Welcome! Create the first administrator" : "Sign in"}</h1>
      ${setup ? html`<p class="muted">This account manages Haul: its users, settings and downloads. Choose a long password.</p>` : null}
      ${message && !setup ? html`<p class="notice" role="status">${message}</p>` : null}
      <${Field} id="auth-user" label="User name" error=${fieldError("username")}>
        <input id="auth-user" name="username" autocomplete="username" required value=${username}
          aria-invalid=${Boolean(fieldError("username"))} onInput=${(e) => setUsername(e.target.value)} /><//>
      <${Field} id="auth-password" label="Password" error=${fieldError("password")} hint=${setup ? "At least 12 characters." : ""}>
        <input id="auth-password" name="password" type="password" autocomplete=${setup ? "new-password" : "current-password"} required
          value=${password} aria-invalid=${Boolean(fieldError("password"))} onInput=${(e) => setPassword(e.target.value)} /><//>
      ${setup ? html`<${Field} id="auth-confirm" label="Password again">
        <input id="auth-confirm" type="password" autocomplete="new-password" required value=${confirm} onInput=${(e) => setConfirm(e.target.value)} /><//>` : null}
      ${setup && needsToken ? html`<${Field} id="auth-token" label="Setup token (printed by make deploy)" error=${fieldError("setup_token")}>
        <input id="auth-token" autocomplete="off" required value=${token} onInput=${(e) => setToken(e.target.value)} /><//>` : null}
      ${error ? html`<p class="error-note" role="alert">${error.message}</p>` : null}
      <button class="btn primary wide" type="submit" disabled=${busy}>${busy ? "Please wait…" : setup ? "Create and sign in" : "Sign in"}</button>
      <p class="muted small">API reference: <a href=${`${CONFIG.api}/docs`}>${`${CONFIG.api}/docs`}</a></p>
    </form>${setup ? html`<${SetupChecks} token=${token} />` : null}</main>`;
}

// -- the shell ---------------------------------------------------------------------------------------
function ConnectionBadge() {
  const state = useStore(connection);
  const [, setNow] = useState(0);
  useEffect(() => {
    if (!state.retryAt) return undefined;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [state.retryAt]);
  const text = {
    live: "Live", connecting: "Connecting…", offline: "Offline",
    reconnecting: state.retryAt ? `Reconnecting in ${Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000))} s` : "Reconnecting…",
  }[state.state];
  return html`<button type="button" class="conn" data-state=${state.state} onClick=${reconnectNow}
      title="The live connection to Haul (select to reconnect now)" aria-live="polite">
    <span class="dot" aria-hidden="true"></span><span class="conn-text">${text}</span></button>`;
}

function EngineMini() {
  const stats = useStore(engine);
  if (!stats) return null;
  return html`<div class="engine-mini" aria-label="Engine">
    <span title="Total speed">⇣ ${speed(stats.total_speed)}</span>
    <span title="Active downloads">${stats.active} active</span><span title="Queued downloads">${stats.queued} queued</span></div>`;
}

function Nav({ current, open, onNavigate }) {
  const groups = [];
  for (const view of VIEWS) {
    if (view.nav === false || !can(view.role)) continue;
    let group = groups.find((g) => g.name === view.group);
    if (!group) groups.push(group = { name: view.group, views: [] });
    group.views.push(view);
  }
  return html`<nav class=${`nav${open ? " open" : ""}`} id="nav" aria-label="Main">
    ${groups.map((g) => html`<div class="nav-group"><h2 class="nav-heading">${g.name}</h2><ul>
      ${g.views.map((v) => html`<li><a href=${`#/${v.id}`} class="nav-link" onClick=${onNavigate}
        aria-current=${current === v.id || (current === "download" && v.id === "downloads") || (current === "batch" && v.id === "batches") ? "page" : undefined}>
        <${Icon} name=${v.icon} /><span>${v.title}</span></a></li>`)}</ul></div>`)}
  </nav>`;
}

function Toasts() {
  const list = useStore(toasts);
  return html`<div class="toasts" role="status" aria-live="polite">
    ${list.map((t) => html`<div class="toast" data-level=${t.level} key=${t.id}>
      <div class="toast-text"><strong>${t.title}</strong><span>${t.message}</span>
        ${t.link ? html`<a href=${t.link} onClick=${() => dismiss(t.id)}>Open</a>` : null}</div>
      <button type="button" class="btn ghost small" aria-label="Dismiss" onClick=${() => dismiss(t.id)}>✕</button></div>`)}
  </div>`;
}

const loaded = new Map();
function Route({ route }) {
  const entry = VIEWS.find((v) => v.id === route.view) || VIEWS.find((v) => v.id === DEFAULT_VIEW);
  const [module, setModule] = useState(loaded.get(entry.id) || null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let alive = true;
    setError(null);
    if (loaded.has(entry.id)) { setModule(loaded.get(entry.id)); return undefined; }
    setModule(null);
    entry.load().then((m) => { loaded.set(entry.id, m); if (alive) setModule(m); }, (e) => alive && setError(e));
    return () => { alive = false; };
  }, [entry.id]);
  useEffect(() => { document.title = `${entry.title} · Haul`; }, [entry.id]);
  if (!can(entry.role)) return html`<p class="error-note" role="alert">Your role does not allow this page.</p>`;
  if (error) return html`<p class="error-note" role="alert">This page could not be loaded (${error.message}). Reload the page.</p>`;
  if (!module || loaded.get(entry.id) !== module) return html`<p class="loading">Loading…</p>`;
  const View = module[entry.export || "default"];
  return html`<${View} key=${entry.id} args=${route.args} query=${route.query} />`;
}

function Shell() {
  const [route, setRoute] = useState(parseHash());
  const [navOpen, setNavOpen] = useState(false);
  const s = useStore(session);
  const mainRef = useRef(null);
  useEffect(() => {
    const onHash = () => { setRoute(parseHash()); setNavOpen(false); };
    window.addEventListener("hashchange", onHash);
    startLive();
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  // A new page: move focus to its heading, for keyboard and screen reader users.
  useEffect(() => {
    const t = setTimeout(() => { const h = mainRef.current && mainRef.current.querySelector(".page-title"); if (h && !mainRef.current.contains(document.activeElement)) h.focus({ preventScroll: true }); }, 50);
    return () => clearTimeout(t);
  }, [route.view, (route.args || []).join("/")]);
  const user = s.user || {};
  return html`<div class="shell">
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); mainRef.current.focus(); }}>Skip to content</a>
    <header class="topbar">
      <button type="button" class="btn ghost icon-only menu-toggle" aria-expanded=${navOpen} aria-controls="nav"
        aria-label="Menu" onClick=${() => setNavOpen(!navOpen)}><${Icon} name="menu" /></button>
      <a class="brand" href="#/downloads"><span class="logo" aria-hidden="true"><${Icon} name="downloads" /></span>Haul</a>
      <${ConnectionBadge} />
      <${EngineMini} />
      <div class="topbar-end">
        <${ThemeToggle} />
        <span class="who" title=${`Role: ${user.role}`}>${user.username}<small>${user.role}</small></span>
        <button type="button" class="btn ghost" onClick=${signOut}><${Icon} name="logout" /><span class="label">Sign out</span></button>
      </div>
    </header>
    <${Nav} current=${route.view || DEFAULT_VIEW} open=${navOpen} onNavigate=${() => setNavOpen(false)} />
    <main class="main" id="main" tabindex="-1" ref=${mainRef}><${Route} route=${route} /></main>
    <${Toasts} />
  </div>`;
}

function App() {
  const s = useStore(session);
  const [status, setStatus] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    if (s) return undefined;
    let alive = true;
    setStatus(null);
    const ask = () => request("/auth/status", { auth: false }).then(
      (r) => { if (alive) { setStatus(r.data); setProblem(null); } },
      (e) => { if (alive) { setProblem(e.message); setTimeout(ask, 3000); } });
    ask();
    return () => { alive = false; };
  }, [Boolean(s)]);
  if (s) return html`<${Shell} />`;
  if (problem) return html`<main class="auth" id="main"><div class="auth-card"><h1>Haul</h1><p class="error-note" role="alert">${problem}</p></div></main>`;
  if (!status) return html`<p class="boot">Loading Haul…</p>`;
  return html`<${AuthForm} setup=${status.setup_required} needsToken=${Boolean(status.setup_token_required)} />`;
}

render(html`<${App} />`, document.getElementById("app"));
