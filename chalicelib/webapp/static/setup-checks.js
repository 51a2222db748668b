// The setup wizard's checks on the first-run page (GET /setup/status, POST /setup/test-feed and
// /setup/test-notification): what a fresh install still needs, and a feed and a notification
// tried before the first administrator exists. Nothing tried here is stored.
import { html, useState, useEffect } from "./lib.js";
import { request } from "./session.js";
import { Field } from "./ui.js";

const NAMES = { admin: "First administrator", storage: "Storage answers", test_download: "A test download",
  feed: "A feed (optional)", notification: "A notification (optional)" };

export function SetupChecks({ token }) {
  const [status, setStatus] = useState(null);
  const [tick, setTick] = useState(0);
  const [feed, setFeed] = useState("");
  const [target, setTarget] = useState({ kind: "apprise", url: "" });
  const [said, setSaid] = useState({ feed: "", notification: "" });
  useEffect(() => { request("/setup/status", { auth: false }).then((r) => setStatus(r.data), () => setStatus(null)); }, [tick]);
  const body = (extra) => ({ ...extra, ...(token ? { setup_token: token.trim() } : {}) });
  const tryIt = async (what, path, payload, describe) => {
    try {
      const r = (await request(path, { method: "POST", body: body(payload), auth: false })).data;
      setSaid((s) => ({ ...s, [what]: describe(r) }));
      setTick((t) => t + 1);
    } catch (e) { setSaid((s) => ({ ...s, [what]: e.message })); }
  };
  if (!status || !status.open) return null;
  return html`<section class="auth-card setup-checks" aria-labelledby="setup-checks-title">
    <h2 id="setup-checks-title">Before you start</h2>
    <ul class="steps">${status.steps.map((s) => html`<li data-done=${s.done ? "yes" : "no"}>
      <span aria-hidden="true">${s.done ? "✓" : "○"}</span> ${NAMES[s.name] || s.name}<span class="sr-only">${s.done ? ": done" : ": not yet"}</span>
      <div class="muted small">${s.hint}</div></li>`)}</ul>
    <${Field} id="setup-feed" label="Try a feed (RSS or Atom URL)">
      <input id="setup-feed" autocomplete="off" value=${feed} onInput=${(e) => setFeed(e.target.value)} /><//>
    <button type="button" class="btn" onClick=${() => tryIt("feed", "/setup/test-feed", { url: feed },
      (r) => (r.ok ? `Read "${r.title || "untitled"}": ${r.total_items} item(s)` : `Not readable: ${r.error}`))}>Try the feed</button>
    <p class="small" role="status">${said.feed}</p>
    <${Field} id="setup-target-kind" label="Try a notification"><select id="setup-target-kind" value=${target.kind}
      onChange=${(e) => setTarget({ ...target, kind: e.target.value })}><option value="apprise">Apprise URL</option><option value="webhook">Webhook</option></select><//>
    <${Field} id="setup-target-url" label="Its URL"><input id="setup-target-url" autocomplete="off" value=${target.url}
      onInput=${(e) => setTarget({ ...target, url: e.target.value })} /><//>
    <button type="button" class="btn" onClick=${() => tryIt("notification", "/setup/test-notification", target,
      (r) => (r.ok ? `Sent: ${r.response}` : `Not sent: ${r.response}`))}>Send a test</button>
    <p class="small" role="status">${said.notification}</p>
  </section>`;
}
