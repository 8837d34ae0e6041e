// The live dashboard: a plain client of this server's ARM API (same origin, no libraries).
// Every second it reads the subscriptions, their instances and databases, and the selected
// migration's restore details only (so it stays light with a hundred migrations).
"use strict";

const API = "api-version=2024-11-01-preview";
const SUBSCRIPTIONS_API = "api-version=2022-12-01";
const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);

let selected = decodeURIComponent(location.hash.slice(1)) || null; // a database's ARM id
let databases = []; // the last list: [{id, name, status, instance, group, subscription}]
let details = null; // the selected migration's restore details (properties), or null
let failure = null; // {code, message} of the selected migration's failed operation

// ---- ARM calls -------------------------------------------------------------------------

class ArmError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function token() {
  return sessionStorage.getItem("lrs-token") || "dashboard"; // lenient mode takes any token
}

const withVersion = (path, version = API) => path + (path.includes("?") ? "&" : "?") + version;

// `method path [body]` → the JSON answer; a failure throws ArmError with ARM's code and message.
async function arm(method, path, body) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) {
    const e = (json && json.error) || {};
    throw new ArmError(response.status, e.code || "HTTP " + response.status,
      e.message || text.slice(0, 300) || response.statusText);
  }
  return json;
}

// {subscription, group, instance, database} from a database id.
function parts(id) {
  const p = id.split("/");
  return { subscription: p[2], group: p[4], instance: p[8], database: p[10] };
}
const instanceId = (id) => id.split("/").slice(0, 9).join("/");

// ---- polling ---------------------------------------------------------------------------

async function loadList() {
  const subs = await arm("GET", withVersion("/subscriptions", SUBSCRIPTIONS_API));
  const lists = await Promise.all(subs.value.map((s) => arm("GET",
    withVersion(`/subscriptions/${encodeURIComponent(s.subscriptionId)}/providers/Microsoft.Sql/managedInstances`))));
  const instances = lists.flatMap((l) => l.value);
  const dbLists = await Promise.all(instances.map((i) => arm("GET", withVersion(i.id + "/databases"))));
  databases = dbLists.flatMap((l) => l.value).map((d) => ({
    id: d.id, name: d.name, status: (d.properties || {}).status || "?", ...parts(d.id),
  }));
  renderList();
}

async function loadDetails() {
  if (!selected) return;
  const id = selected;
  let found = null;
  let error = null;
  try {
    found = (await arm("GET", withVersion(id + "/restoreDetails/Default"))).properties;
  } catch (e) {
    if (!(e instanceof ArmError)) throw e;
    error = e;
  }
  if (found && found.status === "Failed" && !failure) {
    const failed = await failedOperation(id); // once per selection
    if (id === selected) failure = failed || { code: "Failed", message: found.blockReason || "" };
  }
  if (id !== selected) return; // another database was selected meanwhile
  details = found;
  renderDetails(error);
}

// The code and message of the database's newest failed operation (errorDescription reads
// "Code: message"); restore details carry only the message (blockReason).
async function failedOperation(id) {
  const name = parts(id).database;
  const ops = await arm("GET", withVersion(instanceId(id) + "/operations"));
  const op = ops.value.map((o) => o.properties)
    .find((o) => o.state === "Failed" && (o.description || "").includes(`'${name}'`));
  if (!op || !op.errorDescription) return null;
  const at = op.errorDescription.indexOf(": ");
  return at < 0 ? { code: "", message: op.errorDescription }
    : { code: op.errorDescription.slice(0, at), message: op.errorDescription.slice(at + 2) };
}

async function tick() {
  try {
    await Promise.all([loadList(), loadDetails()]);
    $("refresh").textContent = `Live: updated ${new Date().toLocaleTimeString()}, every ${POLL_MS / 1000} s`;
    $("problem").hidden = true;
    $("problem").textContent = "";
  } catch (e) {
    const problem = $("problem");
    const message = e instanceof ArmError && e.status === 401
      ? `This server needs a token (--auth strict): ${e.code}. Paste a token under “Token”.`
      : `Cannot read the API: ${e instanceof ArmError ? e.code + ": " : ""}${e.message}`;
    problem.hidden = false;
    $("refresh").textContent = "Not updated: see below";
    if (problem.textContent !== message) problem.textContent = message; // announced once
  }
  setTimeout(tick, POLL_MS);
}

// ---- rendering -------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}
const badge = (status) => el("span", { class: `badge s-${status}` }, status);
const time = (t) => (t ? t.replace("T", " ").replace(/(\.\d+)?Z$/, "") : "–");
const text = (id, value) => { $(id).textContent = value ?? "–"; };

let shownList = "";
function renderList() {
  const filter = $("filter").value.trim().toLowerCase();
  const rows = databases.filter((d) =>
    !filter || [d.name, d.instance, d.group, d.status].some((s) => s.toLowerCase().includes(filter)));
  const key = JSON.stringify([rows, selected]);
  if (key === shownList) return; // keep focus and scroll while nothing changed
  shownList = key;
  const migrating = databases.filter((d) => d.status === "Restoring").length;
  text("list-summary", `${databases.length} databases, ${migrating} restoring` +
    (rows.length < databases.length ? `, ${rows.length} shown` : ""));
  $("databases").tBodies[0].replaceChildren(...rows.map((d) => {
    const open = el("button", { type: "button", class: "link", "aria-label": `Show migration ${d.name} on ${d.instance}` }, d.name);
    if (d.id === selected) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => select(d.id));
    const row = el("tr", { class: d.id === selected ? "selected" : "", "data-id": d.id },
      el("td", {}, open), el("td", {}, d.instance, el("span", { class: "group" }, d.group)), el("td", {}, badge(d.status)));
    row.addEventListener("click", (e) => { if (e.target === row || e.target.tagName === "TD") select(d.id); });
    return row;
  }));
}

function renderDetails(error) {
  const where = parts(selected);
  const db = databases.find((d) => d.id === selected);
  text("detail-title", where.database);
  text("detail-where", `instance ${where.instance}, resource group ${where.group}, subscription ${where.subscription}`);
  $("detail").hidden = false;
  const d = details || {};
  const status = d.status || (error ? "Unavailable" : "–");
  $("status").replaceChildren(status);
  $("status").className = `badge s-${status}`;
  $("db-status").replaceChildren(db ? db.status : "gone");
  $("db-status").className = `badge s-${db ? db.status : "Failed"}`;
  $("progress").value = d.percentCompleted || 0;
  text("percent", `${d.percentCompleted || 0} %`);
  text("sizes", d.currentRestorePlanSizeMB !== undefined
    ? `${d.currentRestoredSizeMB} of ${d.currentRestorePlanSizeMB} MB` : "");

  const box = $("error");
  const shown = error ? { code: error.code, message: error.message }
    : d.status === "Failed" ? failure : null;
  box.hidden = !shown;
  const said = shown ? `Error ${shown.code}: ${shown.message}` : "";
  if (box.textContent !== said) { // an alert: announced when it changes, not every second
    box.replaceChildren(...(shown ? ["Error ", el("code", { class: "code" }, shown.code), ": ", shown.message] : []));
  }
  $("block").hidden = !d.blockReason || d.status === "Failed";
  text("block", d.blockReason ? `Blocked: ${d.blockReason}` : "");

  text("n-detected", d.numberOfFilesDetected);
  text("n-queued", d.numberOfFilesQueued);
  text("n-restoring", d.numberOfFilesRestoring);
  text("n-restored", d.numberOfFilesRestored);
  text("n-skipped", d.numberOfFilesSkipped);
  text("n-unrestorable", d.numberOfFilesUnrestorable);
  text("last-uploaded", d.lastUploadedFileName && `${d.lastUploadedFileName} (${time(d.lastUploadedFileTime)})`);
  text("last-restored", d.lastRestoredFileName && `${d.lastRestoredFileName} (${time(d.lastRestoredFileTime)})`);
  const ended = ["Completed", "Failed"].includes(d.status); // the API keeps the last name
  text("current", !ended && d.currentRestoringFileName ? `${d.currentRestoringFileName} (${d.currentBackupType || "?"})` : "–");

  const sets = [["Full", d.fullBackupSets], ["Diff", d.diffBackupSets], ["Log", d.logBackupSets]]
    .flatMap(([kind, list]) => (list || []).map((s) => ({ kind, ...s })));
  $("strip").replaceChildren(...sets.map((s) =>
    el("li", { class: `s-${s.status}`, title: `${s.kind} ${s.firstStripeName}: ${s.status}` })));
  $("sets").tBodies[0].replaceChildren(...sets.map((s) => el("tr", {},
    el("td", {}, s.kind), el("td", {}, s.firstStripeName + (s.numberOfStripes > 1 ? ` (+${s.numberOfStripes - 1} stripes)` : "")),
    el("td", {}, badge(s.status)), el("td", { class: "num" }, String(s.backupSizeMB ?? "–")),
    el("td", {}, time(s.restoreStartedTimestampUtc)), el("td", {}, time(s.restoreFinishedTimestampUtc)))));
  const unrestorable = d.unrestorableFiles || [];
  $("unrestorable-box").hidden = unrestorable.length === 0;
  $("unrestorable").replaceChildren(...unrestorable.map((f) => el("li", {}, f.name || String(f))));

  $("cutover").disabled = !d.lastRestoredFileName || ["Completed", "Failed"].includes(d.status);
  $("stop").disabled = !db;
}

function select(id) {
  if (id === selected) return;
  selected = id;
  details = null;
  failure = null;
  history.replaceState(null, "", "#" + encodeURIComponent(id));
  $("stop-confirm").hidden = true;
  $("action-result").textContent = ""; // results were about the previous selection
  renderList();
  loadDetails().catch(() => {});
}

// ---- actions ---------------------------------------------------------------------------

// Run an action and say how it went (ARM's code and message on failure).
async function act(what, call, describe) {
  const out = $("action-result");
  out.className = "";
  out.textContent = `${what}…`;
  try {
    const answer = await call();
    out.textContent = `${what}: ${describe(answer)}`;
  } catch (e) {
    out.className = "bad";
    out.replaceChildren(`${what} failed: `,
      el("code", { class: "code" }, e instanceof ArmError ? e.code : "NetworkError"), `: ${e.message}`);
  }
}

const affected = (a) => `done, ${a && a.affectedJobs !== undefined ? a.affectedJobs : "?"} jobs affected`;

function wire() {
  $("filter").addEventListener("input", () => { shownList = ""; renderList(); });
  const tokenInput = $("token");
  tokenInput.value = sessionStorage.getItem("lrs-token") || "";
  tokenInput.addEventListener("input", () => sessionStorage.setItem("lrs-token", tokenInput.value.trim()));

  $("cutover").addEventListener("click", () => {
    const last = details && details.lastRestoredFileName;
    act(`Cutover with lastBackupName ${last}`,
      () => arm("POST", withVersion(selected + "/completeRestore"), { lastBackupName: last }),
      () => "accepted, completing");
  });
  $("stop").addEventListener("click", () => { $("stop-confirm").hidden = false; $("stop-confirm").focus(); });
  $("stop-confirm").addEventListener("click", () => {
    $("stop-confirm").hidden = true;
    act(`Stop (drop database ${parts(selected).database})`,
      () => arm("DELETE", withVersion(selected)), () => "accepted, dropping");
  });
  $("failover").addEventListener("click", () => {
    const p = parts(selected);
    const q = new URLSearchParams({ subscription: p.subscription, resourceGroup: p.group, instance: p.instance });
    act(`Failover of ${p.instance}`, () => arm("POST", `/admin/failover?${q}`), affected);
  });
  $("system-patch").addEventListener("click", () =>
    act("System patch", () => arm("POST", "/admin/system-patch"), affected));
  $("fault-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { code: $("fault-code").value.trim(), effect: $("fault-effect").value };
    if ($("fault-aim").checked && selected) {
      const p = parts(selected);
      Object.assign(body, { subscription: p.subscription, resourceGroup: p.group, instance: p.instance, database: p.database });
    }
    act(`Inject ${body.effect} ${body.code}`, () => arm("POST", "/admin/faults", body),
      (f) => `injected (fault ${f && f.id})`);
  });
  $("fault-clear").addEventListener("click", () =>
    act("Clear faults", () => arm("DELETE", "/admin/faults"), (a) => `${a && a.cleared} cleared`));
}

wire();
tick();
