// Your account: who you are, your API keys (the secret is shown once), browser notifications.
import { html, useState, when } from "./lib.js";
import { api, session, changePassword } from "./session.js";
import { toast } from "./live.js";
import { PageHead, ErrorNote, useAsync, Field, Icon } from "./ui.js";

export default function Account() {
  const me = (session.get() || {}).user || {};
  const keys = useAsync(() => api.get("/auth/api-keys"), []);
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [password, setPassword] = useState("");
  const [created, setCreated] = useState(null);
  const [problem, setProblem] = useState(null);
  const [permission, setPermission] = useState("Notification" in window ? Notification.permission : "unsupported");
  const create = async (event) => {
    event.preventDefault();
    setProblem(null);
    try {
      const body = { name: name.trim(), password };
      if (days) body.expires_in_days = Number(days);
      setCreated(await api.post("/auth/api-keys", body)); setName(""); setPassword(""); keys.reload();
    } catch (e) { setProblem(e); }
  };
  const revoke = async (key) => {
    try { await api.del(`/auth/api-keys/${encodeURIComponent(key.id)}`); toast("success", "Key revoked", key.name); keys.reload(); }
    catch (e) { toast("error", "Not revoked", e.message); }
  };
  const list = (keys.data && (keys.data.keys || keys.data.api_keys)) || [];
  return html`<section class="view account">
    <${PageHead} title="Account" />
    <div class="panel"><h2>You</h2><dl class="kv"><dt>User</dt><dd>${me.username}</dd><dt>Role</dt><dd>${me.role}</dd></dl>
</div>
    <${PasswordForm} />
    <div class="panel"><h2><${Icon} name="bell" /> Notifications</h2>
      <p>A message appears in the page when a download completes or fails${permission === "granted" ? ", and your browser shows one too." : "."}</p>
      ${permission === "default" ? html`<button type="button" class="btn" onClick=${() => Notification.requestPermission().then(setPermission)}>Also show browser notifications</button>` : null}
      ${permission === "denied" ? html`<p class="muted">Your browser blocks notifications from this page.</p>` : null}</div>
    <div class="panel"><h2>API keys</h2>
      <p class="muted">For scripts: send the key as <code>X-API-Key</code>. It acts as you, with your role.</p>
      ${created ? html`<div class="notice" role="status"><p><strong>${created.name}</strong>: copy the key now, it is not shown again.</p><p class="secret">${created.key || created.secret || created.api_key}</p></div>` : null}
      <${ErrorNote} error=${keys.error} />
      ${list.length ? html`<div class="table-wrap"><table><thead><tr><th scope="col">Name</th><th scope="col">Starts with</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${list.map((k) => html`<tr><td>${k.name}</td><td><code>${k.prefix || "—"}</code></td><td>${when(k.created_at)}</td><td>${when(k.expires_at)}</td>
          <td><button type="button" class="btn small danger" onClick=${() => revoke(k)}>Revoke</button></td></tr>`)}</tbody></table></div>` : html`<p class="muted">No keys yet.</p>`}
      <form onSubmit=${create} novalidate style=${{ marginTop: "1rem" }}><div class="form-grid">
        <${Field} id="key-name" label="Key name" error=${problem && problem.field("name")}><input id="key-name" value=${name} onInput=${(e) => setName(e.target.value)} /><//>
        <${Field} id="key-days" label="Expires after (days, empty: the default)" error=${problem && problem.field("expires_in_days")}><input id="key-days" inputmode="numeric" value=${days} onInput=${(e) => setDays(e.target.value)} /><//>
        <${Field} id="key-password" label="Your password (again)" error=${problem && problem.field("password")}><input id="key-password" type="password" autocomplete="current-password" value=${password} onInput=${(e) => setPassword(e.target.value)} /><//></div>
        ${problem && !problem.details.length ? html`<p class="error-note" role="alert">${problem.message}</p>` : null}
        <button class="btn primary" type="submit">Create key</button></form></div>
  </section>`;
}

// Change your own password (POST /auth/password): your other sessions, API keys and live
// connections end; this page goes on with the new login.
function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const mismatch = confirm && next !== confirm ? "does not match the new password" : "";
  const submit = async (event) => {
    event.preventDefault();
    if (mismatch) return;
    setProblem(null); setBusy(true);
    try {
      await changePassword(current, next);
      setCurrent(""); setNext(""); setConfirm("");
      toast("success", "Password changed", "Your other sessions and API keys have ended.");
    } catch (e) { setProblem(e); }
    finally { setBusy(false); }
  };
  return html`<div class="panel password"><h2>Password</h2>
    <p class="muted">A new password ends your other sessions, your API keys and live connections; this page stays signed in.</p>
    <form onSubmit=${submit} novalidate><div class="form-grid">
      <${Field} id="pw-current" label="Current password" error=${problem && problem.field("current_password")}><input id="pw-current" type="password" autocomplete="current-password" value=${current} onInput=${(e) => setCurrent(e.target.value)} /><//>
      <${Field} id="pw-new" label="New password (8 characters or more)" error=${problem && problem.field("new_password")}><input id="pw-new" type="password" autocomplete="new-password" value=${next} onInput=${(e) => setNext(e.target.value)} /><//>
      <${Field} id="pw-confirm" label="New password again" error=${mismatch}><input id="pw-confirm" type="password" autocomplete="new-password" value=${confirm} onInput=${(e) => setConfirm(e.target.value)} /><//></div>
      ${problem && !problem.details.length ? html`<p class="error-note" role="alert">${problem.message}</p>` : null}
      <button class="btn primary" type="submit" disabled=${busy || !current || !next || Boolean(mismatch)}>Change password</button></form></div>`;
}
