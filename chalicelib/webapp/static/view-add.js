// Add downloads: one URL per line, an optional batch name, the per-download options; each
// line's outcome is shown next to it (invalid URL, refused address, duplicate with a link).
import { html, useState, href } from "./lib.js";
import { request, ApiError } from "./session.js";
import { PageHead, Field, Icon } from "./ui.js";
import { toast } from "./live.js";

const PRIORITIES = ["LOW", "NORMAL", "HIGH"];

function parseHeaders(text) {
  const headers = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf(":");
    if (at < 1) throw new ApiError(422, "VALIDATION_ERROR", `"${line}" is not "Name: value"`, [{ field: "headers", message: `"${line}" is not "Name: value"` }]);
    headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

const describe = (error) => {
  if (!error) return "";
  const detail = (error.details || []).map((d) => d.message).filter(Boolean)[0];
  return detail && !error.message.includes(detail) ? `${error.message} (${detail})` : error.message;
};

export default function Add() {
  const [form, setForm] = useState({ urls: "", batch: "", filename: "", checksum: "", headers: "", priority: "NORMAL",
                                     category: "", tags: "", speed: "" });
  const [lines, setLines] = useState([]);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const urls = form.urls.split("\n").map((u) => u.trim()).filter(Boolean);

  const submit = async (event) => {
    event.preventDefault();
    setErrors({});
    setLines([]);
    if (!urls.length) { setErrors({ urls: "Paste at least one URL." }); return; }
    let options;
    try {
      options = { priority: form.priority };
      const headers = parseHeaders(form.headers);
      if (Object.keys(headers).length) options.headers = headers;
      if (form.checksum.trim()) options.checksum = form.checksum.trim();
      if (form.category.trim()) options.category = form.category.trim();
      const tags = form.tags.split(",").map((t) => t.trim()).filter(Boolean);
      if (tags.length) options.tags = tags;
      if (form.speed.trim()) {
        const kib = Number(form.speed);
        if (!(kib >= 0)) throw new ApiError(422, "VALIDATION_ERROR", "not a number", [{ field: "speed_limit", message: "must be a number of KiB/s (0: no limit)" }]);
        options.speed_limit = Math.round(kib * 1024);
      }
    } catch (error) { setErrors({ headers: error.field("headers"), speed_limit: error.field("speed_limit") }); return; }
    setBusy(true);
    try {
      if (urls.length === 1 && !form.batch.trim()) {
        const body = { url: urls[0], ...options };
        if (form.filename.trim()) body.filename = form.filename.trim();
        try {
          const { data, status } = await request("/downloads", { method: "POST", body });
          setLines([{ url: urls[0], ok: true, duplicate: status === 200, task: data }]);
          if (status !== 200) { toast("success", "Added", data.filename); setForm({ ...form, urls: "", filename: "" }); }
        } catch (error) {
          if (error.status === 422 || error.status === 400) {
            const fieldErrors = {};
            for (const d of error.details) fieldErrors[(d.field || "").split(".").pop()] = d.message;
            setErrors(fieldErrors);
            setLines([{ url: urls[0], ok: false, error }]);
          } else throw error;
        }
      } else {
        const body = { items: urls.map((url) => ({ url })), defaults: options };
        if (form.batch.trim()) body.name = form.batch.trim();
        const { data } = await request("/batches", { method: "POST", body });
        const tasks = new Map((data.tasks || []).map((t) => [t.id, t]));
        setLines(data.results.map((r) => ({ url: urls[r.index], ok: r.ok, duplicate: r.duplicate, task: tasks.get(r.task_id) || { id: r.task_id }, error: r.error })));
        const added = data.results.filter((r) => r.ok && !r.duplicate).length;
        toast(added === urls.length ? "success" : "info", `Added ${added} of ${urls.length}`, data.batch && data.batch.name ? `Batch ${data.batch.name}` : "");
        if (data.results.every((r) => r.ok)) setForm({ ...form, urls: "" });
      }
    } catch (error) {
      setErrors({ form: error.message });
    } finally { setBusy(false); }
  };

  return html`<section class="view add">
    <${PageHead} title="Add downloads" />
    <form class="panel" onSubmit=${submit} novalidate>
      <${Field} id="add-urls" label="URLs, one per line" error=${errors.urls || errors.url} hint="http:// or https:// — many lines become one batch.">
        <textarea id="add-urls" rows="6" value=${form.urls} onInput=${set("urls")} spellcheck="false" aria-invalid=${Boolean(errors.urls || errors.url)}
          placeholder="https://example.com/file.iso"></textarea><//>
      ${lines.length ? html`<ol class="add-lines" aria-label="Outcome of each line">${lines.map((l, i) => html`<li data-ok=${String(l.ok)}>
        <span class="line-no">Line ${i + 1}</span><span class="line-url">${l.url}</span>
        <span class="line-outcome">${l.ok
          ? (l.duplicate ? html`Already there: <a href=${href("download", [l.task.id])}>the existing download</a>` : html`Added: <a href=${href("download", [l.task.id])}>open</a>`)
          : html`<span class="field-error">${describe(l.error)}</span>`}</span></li>`)}</ol>` : null}
      <div class="form-grid">
        <${Field} id="add-batch" label="Batch name (optional)" error=${errors.name}><input id="add-batch" value=${form.batch} onInput=${set("batch")} /><//>
        <${Field} id="add-filename" label="File name (one URL only)" error=${errors.filename}>
          <input id="add-filename" value=${form.filename} onInput=${set("filename")} disabled=${urls.length > 1} /><//>
        <${Field} id="add-priority" label="Priority"><select id="add-priority" value=${form.priority} onChange=${set("priority")}>
          ${PRIORITIES.map((p) => html`<option value=${p}>${p[0] + p.slice(1).toLowerCase()}</option>`)}</select><//>
        <${Field} id="add-category" label="Category" error=${errors.category}><input id="add-category" value=${form.category} onInput=${set("category")} /><//>
        <${Field} id="add-tags" label="Tags (comma separated)" error=${errors.tags}><input id="add-tags" value=${form.tags} onInput=${set("tags")} /><//>
        <${Field} id="add-speed" label="Speed limit (KiB/s, empty: default)" error=${errors.speed_limit}>
          <input id="add-speed" inputmode="numeric" value=${form.speed} onInput=${set("speed")} /><//>
        <${Field} id="add-checksum" label="Checksum" error=${errors.checksum} hint="sha256:<hex> (also sha1, sha512, md5)">
          <input id="add-checksum" value=${form.checksum} onInput=${set("checksum")} spellcheck="false" /><//>
      </div>
      <${Field} id="add-headers" label="Custom request headers (Name: value, one per line)" error=${errors.headers}>
        <textarea id="add-headers" rows="3" value=${form.headers} onInput=${set("headers")} spellcheck="false" placeholder="Cookie: session=…"></textarea><//>
      ${errors.form ? html`<p class="error-note" role="alert">${errors.form}</p>` : null}
      <div class="form-actions"><button class="btn primary" type="submit" disabled=${busy}><${Icon} name="add" />${busy ? "Adding…" : urls.length > 1 ? `Add ${urls.length} downloads` : "Add download"}</button>
        <a class="btn" href="#/downloads">Back to downloads</a></div>
    </form>
  </section>`;
}
