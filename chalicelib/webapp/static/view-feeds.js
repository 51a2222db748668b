// Feeds (docs/feeds.md): the list with each feed's status, refresh buttons and the automation
// switch; add a feed with a live preview from POST /feeds/analyse; a feed's rules editor whose
// matches show as you type; its items with their states; search over every feed's items,
// streamed over the WebSocket (search_result messages, then search_done). Every title is text.
import { html, useState, useEffect, useRef, ago, when, bytes, href, navigate, CONFIG } from "./lib.js";
import { api, request, can, session, ensureFresh } from "./session.js";
import { toast } from "./live.js";
import { PageHead, Field, ErrorNote, Empty, Pager, useAsync, useCursorPages, Dialog } from "./ui.js";

const STATUS = { ok: "completed", failing: "failed", disabled: "paused", pending: "queued" };
const ITEM = { enqueued: "completed", matched: "downloading", excluded: "paused", failed: "failed", new: "queued" };
const FeedBadge = ({ status, kind = STATUS }) => html`<span class="badge" data-state=${kind[status] || status}>${status}</span>`;
const lines = (text) => text.split(/[\n,]/).map((p) => p.trim()).filter(Boolean);
const MiB = 1024 * 1024;

// -- rules: the form's shape <-> the API's -------------------------------------------------------
const blankRule = () => ({ name: "", include: "", exclude: "", regex: false, link: false, min_size: "", max_size: "",
                           min_season: "", new_episodes_only: false });
const toForm = (r) => ({ name: r.name || "", include: (r.include || []).join("\n"), exclude: (r.exclude || []).join("\n"),
  regex: Boolean(r.regex), link: (r.match_on || []).includes("link"), min_size: r.min_size ? String(r.min_size / MiB) : "",
  max_size: r.max_size ? String(r.max_size / MiB) : "", min_season: r.min_season ?? "", new_episodes_only: Boolean(r.new_episodes_only) });
function toApi(rules) {
  return rules.map((r) => {
    const out = { include: lines(r.include), exclude: lines(r.exclude), regex: r.regex,
                  match_on: r.link ? ["title", "link"] : ["title"], new_episodes_only: r.new_episodes_only };
    if (r.name.trim()) out.name = r.name.trim();
    if (String(r.min_size).trim()) out.min_size = Math.round(Number(r.min_size) * MiB);
    if (String(r.max_size).trim()) out.max_size = Math.round(Number(r.max_size) * MiB);
    if (String(r.min_season).trim()) out.min_season = Number(r.min_season);
    return out;
  });
}
// "rules.1.include.0" -> the message, for rule 1's include box.
const ruleError = (error, i, field) => (error && error.details || []).filter((d) => (d.field || "").startsWith(`rules.${i}.${field}`))
  .map((d) => d.message).join("; ");

function RulesEditor({ rules, onChange, error }) {
  const set = (i, key, value) => onChange(rules.map((r, j) => (j === i ? { ...r, [key]: value } : r)));
  return html`<div class="rules">${rules.map((r, i) => html`<fieldset class="panel rule" key=${i}>
      <legend>Rule ${i + 1}${r.name ? `: ${r.name}` : ""}</legend>
      <div class="grid-2">
        <${Field} label="Name" id=${`rule-${i}-name`}><input id=${`rule-${i}-name`} value=${r.name} onInput=${(e) => set(i, "name", e.target.value)} /><//>
        <${Field} label="Match on" id=${`rule-${i}-link`}><label class="check"><input type="checkbox" id=${`rule-${i}-link`} checked=${r.link}
          onChange=${(e) => set(i, "link", e.target.checked)} /> the link too, not only the title</label><//>
        <${Field} label="Include (one per line; any of them)" id=${`rule-${i}-include`} error=${ruleError(error, i, "include")}
          hint=${r.regex ? "RE2 regular expressions" : "keywords: every word of a line must appear"}>
          <textarea id=${`rule-${i}-include`} rows="3" value=${r.include} onInput=${(e) => set(i, "include", e.target.value)} /><//>
        <${Field} label="Exclude (one per line)" id=${`rule-${i}-exclude`} error=${ruleError(error, i, "exclude")}>
          <textarea id=${`rule-${i}-exclude`} rows="3" value=${r.exclude} onInput=${(e) => set(i, "exclude", e.target.value)} /><//>
        <${Field} label="Min size (MiB)" id=${`rule-${i}-min`} error=${ruleError(error, i, "min_size")}><input id=${`rule-${i}-min`} inputmode="decimal" value=${r.min_size} onInput=${(e) => set(i, "min_size", e.target.value)} /><//>
        <${Field} label="Max size (MiB)" id=${`rule-${i}-max`} error=${ruleError(error, i, "max_size")}><input id=${`rule-${i}-max`} inputmode="decimal" value=${r.max_size} onInput=${(e) => set(i, "max_size", e.target.value)} /><//>
        <${Field} label="Season at least" id=${`rule-${i}-season`} error=${ruleError(error, i, "min_season")}><input id=${`rule-${i}-season`} inputmode="numeric" value=${r.min_season} onInput=${(e) => set(i, "min_season", e.target.value)} /><//>
        <${Field} label="Options" id=${`rule-${i}-regex`}>
          <label class="check"><input type="checkbox" id=${`rule-${i}-regex`} checked=${r.regex} onChange=${(e) => set(i, "regex", e.target.checked)} /> regular expressions</label>
          <label class="check"><input type="checkbox" checked=${r.new_episodes_only} onChange=${(e) => set(i, "new_episodes_only", e.target.checked)} /> only new episodes</label><//>
      </div>
      <button type="button" class="btn small" onClick=${() => onChange(rules.filter((_, j) => j !== i))}>Remove rule ${i + 1}</button>
    </fieldset>`)}
    <button type="button" class="btn" onClick=${() => onChange([...rules, blankRule()])}>Add a rule</button>
    ${rules.length === 0 ? html`<p class="muted small">No rules: every new item is downloaded.</p>` : null}</div>`;
}

// The live preview: POST /feeds/analyse whenever the URL or the rules change (debounced).
function usePreview(url, rules, headers) {
  const [state, setState] = useState({ data: null, error: null, busy: false });
  const body = JSON.stringify({ url, rules: toApi(rules), headers });
  useEffect(() => {
    if (!/^https?:\/\/\S+$/i.test(url.trim())) { setState({ data: null, error: null, busy: false }); return undefined; }
    let alive = true;
    setState((s) => ({ ...s, busy: true }));
    const timer = setTimeout(() => {
      api.post("/feeds/analyse", { ...JSON.parse(body), limit: 100 })
        .then((data) => alive && setState({ data, error: null, busy: false }),
              (error) => alive && setState({ data: null, error, busy: false }));
    }, 500);
    return () => { alive = false; clearTimeout(timer); };
  }, [body]);
  return state;
}

function meta(m) {
  const parts = [];
  if (m.season !== undefined || m.episode !== undefined) parts.push(`S${String(m.season ?? 1).padStart(2, "0")}E${String(m.episode ?? "?").toString().padStart(2, "0")}`);
  for (const key of ["screen_size", "release_group", "source"]) if (m[key]) parts.push(String(m[key]));
  return parts.join(" · ");
}

function Preview({ state }) {
  if (state.error) return html`<${ErrorNote} error=${state.error} />`;
  if (!state.data) return html`<p class="muted">${state.busy ? "Reading the feed…" : "The items and what the rules do with them show here."}</p>`;
  const d = state.data;
  return html`<div class="preview" aria-live="polite">
    <p><strong>${d.title || d.url}</strong> · ${d.total_items} items · <span data-testid="preview-matched">${d.matched}</span> of ${d.items.length} shown match${d.malformed ? html` · <span class="muted">not well-formed XML, read forgivingly</span>` : null}</p>
    <div class="table-wrap"><table><thead><tr><th scope="col">Item</th><th scope="col">Parsed</th><th scope="col" class="num">Size</th><th scope="col">Verdict</th></tr></thead>
      <tbody>${d.items.map((i) => html`<tr class=${i.verdict.matched ? "match" : ""}><td class="name">${i.title}</td><td class="muted small">${meta(i.metadata)}</td>
        <td class="num">${i.size ? bytes(i.size) : "—"}</td>
        <td><span class="badge" data-state=${i.verdict.matched ? "completed" : "paused"}>${i.verdict.matched ? "match" : "skip"}</span>
          <span class="muted small"> ${i.verdict.rule ? `${i.verdict.rule}: ` : ""}${i.verdict.reason}</span></td></tr>`)}</tbody></table></div></div>`;
}

// -- the list ------------------------------------------------------------------------------------
function Automation({ onChange }) {
  const [tick, setTick] = useState(0);
  const { data, error } = useAsync(() => api.get("/automation"), [tick]);
  const flip = async (running) => {
    try { await api.post(`/automation/${running ? "start" : "stop"}`); setTick((t) => t + 1); onChange(); }
    catch (e) { toast("error", "Automation did not change", e.message); }
  };
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return null;
  return html`<div class="panel automation"><p>
    Automation <strong>${data.running ? "running" : "stopped"}</strong>: ${data.enabled_feeds} of ${data.feeds} feeds enabled ·
    last check ${data.last_tick_at ? ago(data.last_tick_at) : "never"} · next refresh ${data.next_refresh_at ? when(data.next_refresh_at) : "—"}
    ${can("admin") ? html` <button type="button" class="btn small" onClick=${() => flip(!data.running)}>${data.running ? "Stop automation" : "Start automation"}</button>` : null}
  </p>${data.running ? null : html`<p class="muted small">Stopped: no scheduled refresh runs; refreshing by hand still does.</p>`}</div>`;
}

function Search() {
  const [q, setQ] = useState("");
  const [state, setState] = useState({ items: [], done: null, error: "" });
  const socket = useRef(null);
  useEffect(() => () => socket.current && socket.current.close(), []);
  const run = async (event) => {
    event.preventDefault();
    if (!q.trim()) return;
    if (socket.current) socket.current.close();
    setState({ items: [], done: null, error: "" });
    await ensureFresh();
    const s = session.get();
    if (!CONFIG.ws || !s) { setState({ items: [], done: null, error: "The live connection is not available." }); return; }
    const ws = new WebSocket(`${CONFIG.ws}?token=${encodeURIComponent(s.access_token)}`);
    socket.current = ws;
    ws.onopen = () => ws.send(JSON.stringify({ action: "search", q: q.trim(), id: "feeds-search" }));
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === "search_result") setState((st) => ({ ...st, items: [...st.items, ...m.items] }));
      else if (m.type === "search_done") { setState((st) => ({ ...st, done: m })); ws.close(); }
      else if (m.type === "error") { setState((st) => ({ ...st, error: m.error.message, done: { count: st.items.length } })); ws.close(); }
    };
    ws.onerror = () => setState((st) => ({ ...st, error: "The live connection failed." }));
  };
  return html`<form class="panel search" onSubmit=${run} role="search">
    <${Field} label="Search every feed's items" id="feed-search"><input id="feed-search" type="search" value=${q} onInput=${(e) => setQ(e.target.value)} /><//>
    <button type="submit" class="btn">Search</button>
    ${state.error ? html`<p class="error-note" role="alert">${state.error}</p>` : null}
    ${state.items.length || state.done ? html`<div aria-live="polite"><p class="muted small">${state.done ? `${state.done.count} found${state.done.truncated ? " (the first ones)" : ""}` : `${state.items.length} so far…`}</p>
      <ul class="search-results">${state.items.map((i) => html`<li key=${`${i.feed_id}/${i.id}`}><a href=${href("feed", [i.feed_id])}>${i.title}</a> <${FeedBadge} status=${i.state} kind=${ITEM} /></li>`)}</ul></div>` : null}
  </form>`;
}

// #/feeds lists them, #/feeds/new adds one.
export default function Feeds({ args }) {
  return args[0] === "new" ? html`<${AddFeed} />` : html`<${FeedList} />`;
}

function FeedList() {
  const pages = useCursorPages("feeds");
  const [tick, setTick] = useState(0);
  const { data, error } = useAsync(() => request("/feeds", { query: { per_page: 50, cursor: pages.cursor || undefined } }).then((r) => r.data), [pages.cursor, tick]);
  const reload = () => setTick((t) => t + 1);
  const refresh = async (ids) => {
    try {
      const r = await api.post("/feeds/refresh", ids ? { ids } : {});
      toast(r.failed ? "error" : "success", "Refreshed", `${r.found} items, ${r.new} new, ${r.enqueued} enqueued${r.failed ? `, ${r.failed} failed` : ""}`);
      reload();
    } catch (e) { toast("error", "Refresh failed", e.message); }
  };
  const toggle = async (feed) => {
    try { await api.patch(`/feeds/${encodeURIComponent(feed.id)}`, { enabled: !feed.enabled }); reload(); }
    catch (e) { toast("error", "Not changed", e.message); }
  };
  const list = (data && data.feeds) || [];
  const writer = can("user");
  return html`<section class="view feeds">
    <${PageHead} title="Feeds">${writer ? html`<a class="btn primary" href=${href("feeds", ["new"])}>Add a feed</a>
      <button type="button" class="btn" onClick=${() => refresh(null)}>Refresh all</button>` : null}<//>
    <${Automation} onChange=${reload} />
    <${Search} />
    <${ErrorNote} error=${error} />
    ${!data ? html`<p class="loading">Loading…</p>` : list.length === 0 ? html`<${Empty}>No feeds yet. ${writer ? html`<a href=${href("feeds", ["new"])}>Add one</a> to download what it announces.` : ""}<//>`
      : html`<div class="table-wrap"><table><thead><tr><th scope="col">Feed</th><th scope="col">Status</th><th scope="col">Last success</th><th scope="col">Next refresh</th><th scope="col" class="num">Items</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${list.map((f) => html`<tr key=${f.id}><td><a class="name" href=${href("feed", [f.id])}>${f.name}</a><div class="muted small">${f.title || f.url}</div></td>
          <td><${FeedBadge} status=${f.status} />${f.last_error ? html`<div class="row-error">${f.last_error}</div>` : null}</td>
          <td>${f.last_ok_at ? ago(f.last_ok_at) : "—"}</td><td>${f.next_refresh_at ? when(f.next_refresh_at) : "—"}</td>
          <td class="num">${f.items_enqueued} / ${f.items_seen}</td>
          <td>${writer ? html`<div class="actions"><button type="button" class="btn small" onClick=${() => refresh([f.id])} aria-label=${`Refresh ${f.name}`}>Refresh</button>
            <button type="button" class="btn small" onClick=${() => toggle(f)} aria-label=${`${f.enabled ? "Disable" : "Enable"} ${f.name}`}>${f.enabled ? "Disable" : "Enable"}</button></div>` : null}</td></tr>`)}</tbody></table></div>`}
    ${data ? html`<div class="list-foot"><${Pager} page=${pages.page} hasNext=${Boolean(data.next_cursor)} total=${data.total} perPage=${50} onPrev=${pages.prev} onNext=${() => pages.next(data.next_cursor)} /></div>` : null}
  </section>`;
}

// -- add -----------------------------------------------------------------------------------------
function AddFeed() {
  const [form, setForm] = useState({ url: "", name: "", interval: "30", category: "", tags: "", prefix: "" });
  const [rules, setRules] = useState([blankRule()]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const preview = usePreview(form.url, rules);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = { url: form.url.trim(), interval_minutes: Number(form.interval) || 30, rules: toApi(rules) };
    if (form.name.trim()) body.name = form.name.trim();
    if (form.category.trim()) body.category = form.category.trim();
    if (lines(form.tags).length) body.tags = lines(form.tags);
    if (form.prefix.trim()) body.filename_prefix = form.prefix.trim();
    try {
      const feed = await api.post("/feeds", body);
      toast("success", "Subscribed", `${feed.name}: the first refresh runs within a minute`);
      navigate("feed", [feed.id]);
    } catch (e) { setError(e); setBusy(false); }
  };
  const fieldError = (name) => (error && error.field ? error.field(name) : "");
  return html`<section class="view feed-add">
    <${PageHead} title="Add a feed" />
    <form class="panel" onSubmit=${submit} novalidate>
      <div class="grid-2">
        <${Field} label="Feed URL (RSS or Atom)" id="feed-url" error=${fieldError("url")}><input id="feed-url" type="url" required value=${form.url} onInput=${set("url")} /><//>
        <${Field} label="Name" id="feed-name" hint="default: the feed's host"><input id="feed-name" value=${form.name} onInput=${set("name")} /><//>
        <${Field} label="Refresh every (minutes)" id="feed-interval" error=${fieldError("interval_minutes")}><input id="feed-interval" inputmode="numeric" value=${form.interval} onInput=${set("interval")} /><//>
        <${Field} label="Category" id="feed-category"><input id="feed-category" value=${form.category} onInput=${set("category")} /><//>
        <${Field} label="Tags (comma-separated)" id="feed-tags"><input id="feed-tags" value=${form.tags} onInput=${set("tags")} /><//>
        <${Field} label="File name prefix" id="feed-prefix"><input id="feed-prefix" value=${form.prefix} onInput=${set("prefix")} /><//>
      </div>
      <h2>Rules</h2>
      <${RulesEditor} rules=${rules} onChange=${setRules} error=${error || preview.error} />
      ${error ? html`<${ErrorNote} error=${error} />` : null}
      <p><button type="submit" class="btn primary" disabled=${busy}>Subscribe</button></p>
    </form>
    <section class="panel"><h2>Preview</h2><${Preview} state=${preview} /></section>
  </section>`;
}

// -- one feed ------------------------------------------------------------------------------------
export function FeedDetail({ args }) {
  const id = args[0] || "";
  const [tick, setTick] = useState(0);
  const feed = useAsync(() => api.get(`/feeds/${encodeURIComponent(id)}`), [id, tick]);
  const [state, setState] = useState("");
  const pages = useCursorPages(`${id}/${state}`);
  const items = useAsync(() => request(`/feeds/${encodeURIComponent(id)}/items`, { query: { state: state || undefined, per_page: 50, cursor: pages.cursor || undefined } }).then((r) => r.data),
                         [id, state, pages.cursor, tick]);
  const [rules, setRules] = useState(null);
  const [ruleError, setRuleError] = useState(null);
  const [asking, setAsking] = useState(false);
  useEffect(() => { if (feed.data && rules === null) setRules(feed.data.rules.map(toForm)); }, [feed.data]);
  const preview = usePreview(feed.data && rules ? feed.data.url : "", rules || []);
  const reload = () => setTick((t) => t + 1);
  const act = async (what, fn) => {
    try { const r = await fn(); toast("success", what, typeof r === "string" ? r : ""); reload(); }
    catch (e) { toast("error", `${what} failed`, e.message); }
  };
  const saveRules = async () => {
    setRuleError(null);
    try { await api.patch(`/feeds/${encodeURIComponent(id)}`, { rules: toApi(rules) }); toast("success", "Rules saved", ""); reload(); }
    catch (e) { setRuleError(e); }
  };
  const remove = async () => {
    setAsking(false);
    try { await api.del(`/feeds/${encodeURIComponent(id)}`); toast("info", "Unsubscribed", ""); navigate("feeds"); }
    catch (e) { toast("error", "Delete failed", e.message); }
  };
  if (feed.error) return html`<section class="view"><${PageHead} title="Feed" /><${ErrorNote} error=${feed.error} /></section>`;
  if (!feed.data) return html`<p class="loading">Loading…</p>`;
  const f = feed.data;
  const writer = can("user");
  const list = (items.data && items.data.items) || [];
  return html`<section class="view feed">
    <${PageHead} title=${f.name}>${writer ? html`
      <button type="button" class="btn" onClick=${() => act("Refreshed", () => api.post(`/feeds/${encodeURIComponent(id)}/refresh`).then((r) => `${r.found} items, ${r.new} new, ${r.enqueued} enqueued${r.error ? `: ${r.error}` : ""}`))}>Refresh now</button>
      <button type="button" class="btn" onClick=${() => act("Collected", () => api.post(`/feeds/${encodeURIComponent(id)}/collect`).then((r) => `${r.enqueued} enqueued`))}>Collect all matches</button>
      <button type="button" class="btn" onClick=${() => act(f.enabled ? "Disabled" : "Enabled", () => api.patch(`/feeds/${encodeURIComponent(id)}`, { enabled: !f.enabled }))}>${f.enabled ? "Disable" : "Enable"}</button>
      <button type="button" class="btn danger" onClick=${() => setAsking(true)}>Unsubscribe</button>` : null}<//>
    <div class="panel"><p><${FeedBadge} status=${f.status} /> <span class="muted">${f.title || ""}</span> · <span class="small">${f.url}</span></p>
      <p class="small">Every ${f.interval_minutes} min · last success ${f.last_ok_at ? ago(f.last_ok_at) : "never"} · next ${f.next_refresh_at ? when(f.next_refresh_at) : "—"} · ${f.items_enqueued} of ${f.items_seen} items enqueued${f.last_episode ? ` · last episode S${String(f.last_episode.season).padStart(2, "0")}E${String(f.last_episode.episode).padStart(2, "0")}` : ""}</p>
      ${f.last_error ? html`<p class="error-note">${f.last_error} (${f.failures} failure${f.failures === 1 ? "" : "s"} in a row)</p>` : null}</div>
    ${writer && rules ? html`<section class="panel"><h2>Rules</h2>
      <${RulesEditor} rules=${rules} onChange=${setRules} error=${ruleError || preview.error} />
      ${ruleError ? html`<${ErrorNote} error=${ruleError} />` : null}
      <p><button type="button" class="btn primary" onClick=${saveRules}>Save rules</button></p>
      <h3>What these rules take now</h3><${Preview} state=${preview} /></section>` : null}
    <section><h2>Items</h2>
      <${Field} label="State" id="item-state"><select id="item-state" value=${state} onChange=${(e) => setState(e.target.value)}>
        ${["", "new", "matched", "excluded", "enqueued", "failed"].map((s) => html`<option value=${s}>${s || "all"}</option>`)}</select><//>
      <${ErrorNote} error=${items.error} />
      ${!items.data ? html`<p class="loading">Loading…</p>` : list.length === 0 ? html`<${Empty}>No items${state ? ` in state ${state}` : " yet"}.<//>`
        : html`<div class="table-wrap"><table><thead><tr><th scope="col">Item</th><th scope="col">State</th><th scope="col">Why</th><th scope="col">Seen</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${list.map((i) => html`<tr key=${i.id}><td class="name">${i.title}<div class="muted small">${meta(i.metadata)}</div></td>
            <td><${FeedBadge} status=${i.state} kind=${ITEM} /></td>
            <td class="small">${i.rule ? `${i.rule}: ` : ""}${i.reason || ""}${i.download_id ? html` · <a href=${href("download", [i.download_id])}>download</a>` : null}</td>
            <td>${ago(i.seen_at)}</td>
            <td>${writer && !i.download_id ? html`<button type="button" class="btn small" onClick=${() => act("Enqueued", () => api.post(`/feeds/${encodeURIComponent(id)}/items/${encodeURIComponent(i.id)}/enqueue`))} aria-label=${`Download ${i.title}`}>Download</button>` : null}</td></tr>`)}</tbody></table></div>`}
      ${items.data ? html`<div class="list-foot"><${Pager} page=${pages.page} hasNext=${Boolean(items.data.next_cursor)} total=${state ? undefined : items.data.total} perPage=${50} onPrev=${pages.prev} onNext=${() => pages.next(items.data.next_cursor)} /></div>` : null}
    </section>
    <${Dialog} open=${asking} title="Unsubscribe from this feed?" onClose=${() => setAsking(false)}
      actions=${html`<button type="button" class="btn" onClick=${() => setAsking(false)}>Keep</button><button type="button" class="btn danger" onClick=${remove}>Unsubscribe</button>`}>
      <p>The feed and the items it has shown are deleted; the downloads it made stay.</p><//>
  </section>`;
}
