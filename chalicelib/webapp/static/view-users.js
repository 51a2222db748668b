// Users (admins): create, change roles, disable, reset passwords, delete.
import { html, useState, when } from "./lib.js";
import { api, session } from "./session.js";
import { toast } from "./live.js";
import { PageHead, ErrorNote, useAsync, Field } from "./ui.js";

const ROLES = ["admin", "user", "viewer"];

export default function Users() {
  const { data, error, reload } = useAsync(() => api.get("/users", { per_page: 200 }), []);
  const [form, setForm] = useState({ username: "", password: "", role: "user" });
  const [problem, setProblem] = useState(null);
  const me = (session.get() || {}).user || {};
  const create = async (event) => {
    event.preventDefault();
    setProblem(null);
    try { await api.post("/users", form); toast("success", "User created", form.username); setForm({ username: "", password: "", role: "user" }); reload(); }
    catch (e) { setProblem(e); }
  };
  const change = async (user, body, what) => {
    try { await api.patch(`/users/${encodeURIComponent(user.id)}`, body); toast("success", what, user.username); reload(); }
    catch (e) { toast("error", "Not changed", e.message); }
  };
  const remove = async (user) => {
    if (!window.confirm(`Delete ${user.username}? Their downloads stay.`)) return;
    try { await api.del(`/users/${encodeURIComponent(user.id)}`); toast("success", "User deleted", user.username); reload(); }
    catch (e) { toast("error", "Not deleted", e.message); }
  };
  const fieldError = (name) => (problem && problem.field ? problem.field(name) : "");
  return html`<section class="view users">
    <${PageHead} title="Users" />
    <${ErrorNote} error=${error} />
    <div class="table-wrap"><table><thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">State</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${((data && data.users) || []).map((u) => html`<tr><td><strong>${u.username}</strong>${u.id === me.id ? html` <span class="chip">you</span>` : null}</td>
        <td><select aria-label=${`Role of ${u.username}`} value=${u.role} onChange=${(e) => change(u, { role: e.target.value }, "Role changed")}>${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select></td>
        <td>${u.disabled ? "disabled" : "active"}</td><td class="muted">${when(u.created_at)}</td>
        <td><div class="actions"><button type="button" class="btn small" onClick=${() => change(u, { disabled: !u.disabled }, u.disabled ? "Enabled" : "Disabled")}>${u.disabled ? "Enable" : "Disable"}</button>
          <button type="button" class="btn small" onClick=${() => { const p = window.prompt(`New password for ${u.username} (at least 12 characters)`); if (p) change(u, { password: p }, "Password set"); }}>Set password</button>
          <button type="button" class="btn small danger" onClick=${() => remove(u)}>Delete</button></div></td></tr>`)}</tbody></table></div>
    <form class="panel" style=${{ marginTop: "1rem" }} onSubmit=${create} novalidate><h2>New user</h2>
      <div class="form-grid">
        <${Field} id="nu-name" label="User name" error=${fieldError("username")}><input id="nu-name" autocomplete="off" value=${form.username} onInput=${(e) => setForm({ ...form, username: e.target.value })} /><//>
        <${Field} id="nu-pass" label="Password" error=${fieldError("password")} hint="At least 12 characters."><input id="nu-pass" type="password" autocomplete="new-password" value=${form.password} onInput=${(e) => setForm({ ...form, password: e.target.value })} /><//>
        <${Field} id="nu-role" label="Role"><select id="nu-role" value=${form.role} onChange=${(e) => setForm({ ...form, role: e.target.value })}>${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select><//>
      </div>
      ${problem && !fieldError("username") && !fieldError("password") ? html`<p class="error-note" role="alert">${problem.message}</p>` : null}
      <button class="btn primary" type="submit">Create user</button></form>
  </section>`;
}
