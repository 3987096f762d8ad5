// The fakeserver dashboard. It uses only what any client could: the control API
// (/__fake__/...) and the public Coder API, signed in as a task's owner with a
// token read from GET /__fake__/state. It polls once a second.
"use strict";

const CONTROL = new URL("./", location.href); // the page is served at /__fake__/
const API = new URL("../api/v2/", CONTROL);
const POLL_MS = 1000;
const JOURNAL_ROWS = 200;
const JOURNAL_KEPT = 500; // the newest journal entries the page holds (and asks for at most)

const view = {
  state: null, // GET /__fake__/state
  selected: null, // a task id
  record: null, // GET /__fake__/tasks/{id}
  requests: [], // GET /__fake__/requests
  keys: {}, // what was last rendered, to redraw only what changed
  expanded: new Set(), // journal entries opened by a click
  seen: 0, // the highest journal id rendered so far
  journalLast: 0, // the newest journal id fetched: the next poll asks only for what came after it
  journalTotal: 0, // entries the journal holds (its ids are consecutive)
};

// ---------------------------------------------------------------- HTTP

class HttpError extends Error {
  constructor(status, body) {
    const message = body && typeof body === "object" && body.message ? body.message : String(body || "");
    super(`${status} ${message}`);
    this.status = status;
    this.body = body;
  }
  get detail() {
    return this.body && typeof this.body === "object" ? this.body.detail || "" : "";
  }
}

async function call(base, method, path, body, token) {
  const headers = { Accept: "application/json" };
  // Every write says JSON, with a body or not: the control plane refuses writes a page of another
  // origin could send without a preflight (text/plain, forms).
  if (method !== "GET") headers["Content-Type"] = "application/json";
  if (token) headers["Coder-Session-Token"] = token;
  const response = await fetch(new URL(path, base), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) throw new HttpError(response.status, data);
  return { status: response.status, data };
}

const control = (method, path, body) => call(CONTROL, method, path, body);

function api(method, path, owner, body) {
  const signer = signerFor(owner);
  if (!signer) throw new Error(`No token for ${owner} (nor for an owner-role user) in the world`);
  return call(API, method, path, body, signer.token);
}

// A task's owner acts through the public API with their own token; an
// owner-role user (a Coder admin) stands in for an owner who has none.
function signerFor(username) {
  const users = (view.state && view.state.world.users) || [];
  const withToken = (user) => user.tokens && user.tokens.length > 0;
  const owner = users.find((user) => user.username === username && withToken(user));
  const admin = users.find((user) => (user.roles || []).includes("owner") && withToken(user));
  const user = owner || admin;
  return user ? { username: user.username, token: user.tokens[0] } : null;
}

// ---------------------------------------------------------------- DOM helpers

const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(kind, value, moving) {
  return h("span", { class: `badge ${kind}-${value}${moving ? " moving" : ""}`, "data-value": value }, value);
}

function clockTime(iso) {
  if (!iso) return "";
  const match = /T(\d\d:\d\d:\d\d)/.exec(iso);
  return match ? match[1] : iso;
}

function toast(text, detail, isError) {
  const node = h("div", { class: `toast${isError ? " error" : ""}`, role: "status" }, text);
  if (detail) node.append(h("span", { class: "detail" }, detail));
  $("toasts").append(node);
  setTimeout(() => node.remove(), isError ? 8000 : 3000);
}

// Run an action, report its outcome, and refresh at once.
async function act(label, action) {
  try {
    const result = await action();
    const status = result && result.status ? ` (${result.status})` : "";
    toast(`${label}${status}`, result && result.note);
  } catch (error) {
    toast(`${label} failed: ${error.message}`, error.detail, true);
  }
  await refresh();
}

// ---------------------------------------------------------------- polling

let polling = false;
let pollAgain = false;

async function refresh() {
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  try {
    const [state, requests] = await Promise.all([
      control("GET", "state"),
      control("GET", `requests?since=${view.journalLast}&limit=${JOURNAL_KEPT}`),
    ]);
    view.state = state.data;
    if (!mergeJournal(requests.data)) pollAgain = true;
    view.record = view.selected ? await fetchRecord(view.selected) : null;
    render();
    setConnection(true);
  } catch (error) {
    setConnection(false, error.message);
  } finally {
    polling = false;
    if (pollAgain) {
      pollAgain = false;
      refresh();
    }
  }
}

// Add a page of new journal entries; false when the journal started over (the page is stale).
function mergeJournal(page) {
  if (page.last_id < view.journalLast) {
    view.requests = [];
    view.journalLast = 0;
    return false;
  }
  const kept = view.requests.filter((entry) => entry.id >= page.first_id);
  view.requests = kept.concat(page.requests).slice(-JOURNAL_KEPT);
  view.journalLast = page.last_id;
  view.journalTotal = page.last_id >= page.first_id ? page.last_id - page.first_id + 1 : 0;
  return true;
}

async function fetchRecord(id) {
  try {
    return (await control("GET", `tasks/${encodeURIComponent(id)}`)).data;
  } catch (error) {
    if (error.status === 404) {
      view.selected = null; // deleted, or gone after a reset
      return null;
    }
    throw error;
  }
}

function setConnection(live, reason) {
  const node = $("connection");
  node.className = `connection ${live ? "live" : "down"}`;
  node.textContent = live ? "live" : "disconnected";
  node.title = live ? "Polling the fake every second" : `The fake does not answer: ${reason}`;
}

// ---------------------------------------------------------------- rendering

function render() {
  renderClock();
  renderNewTaskForm();
  renderTasks();
  renderDetail();
  renderJournal();
}

function renderClock() {
  const clock = view.state.clock;
  $("clock-now").textContent = clock.now.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
  const mode = $("clock-mode");
  mode.textContent = clock.mode === "real" ? `real ×${clock.speed}` : "manual";
  mode.className = `pill ${clock.mode}`;
  $("clock-toggle").textContent = clock.mode === "real" ? "Manual clock" : "Real clock";
}

function renderNewTaskForm() {
  const world = view.state.world;
  const key = JSON.stringify([world.users.map((u) => u.username), world.templates]);
  if (view.keys.form === key) return;
  view.keys.form = key;
  const owner = $("new-owner");
  const chosenOwner = owner.value;
  owner.replaceChildren(...world.users.map((user) => h("option", { value: user.username }, user.username)));
  if (chosenOwner) owner.value = chosenOwner;
  const versions = [];
  for (const template of world.templates) {
    for (const version of template.versions || []) {
      if (version.has_ai_task && !version.archived) {
        versions.push(h("option", { value: version.id }, `${template.display_name || template.name} ${version.name}`));
      }
    }
  }
  const version = $("new-version");
  const chosenVersion = version.value;
  version.replaceChildren(...versions);
  if (chosenVersion) version.value = chosenVersion;
  renderPresetChoice();
}

// The chosen version's presets, by name (what `coder task create --preset` matches).
function renderPresetChoice() {
  const version = findVersion($("new-version").value);
  const presets = (version && version.presets) || [];
  $("new-preset").replaceChildren(
    h("option", { value: "" }, "No preset"),
    ...presets.map((preset) => h("option", { value: preset.id }, `Preset: ${preset.name}`)),
  );
}

function findVersion(versionId) {
  for (const template of view.state.world.templates) {
    for (const version of template.versions || []) {
      if (version.id === versionId) return version;
    }
  }
  return null;
}

function presetName(build) {
  if (!build || !build.preset_id) return "—";
  for (const template of view.state.world.templates) {
    for (const version of template.versions || []) {
      const preset = (version.presets || []).find((p) => p.id === build.preset_id);
      if (preset) return preset.name;
    }
  }
  return build.preset_id;
}

function templateText(task) {
  const template = view.state.world.templates.find((t) => t.id === task.template_id);
  const shown = task.template_display_name || task.template_name;
  return template && template.icon ? `${shown} · ${template.name} · ${template.icon}` : shown;
}

function renderTasks() {
  const { world, tasks } = view.state;
  const key = JSON.stringify([tasks, world.users.map((u) => [u.username, u.tokens]), view.selected]);
  if (view.keys.tasks === key) return;
  view.keys.tasks = key;
  $("task-count").textContent = tasks.length;

  const rows = [];
  for (const user of world.users) {
    const owned = tasks.filter((task) => task.owner_name === user.username);
    rows.push(ownerRow(user, owned.length));
    if (owned.length === 0) rows.push(h("tr", { class: "none" }, h("td", { colspan: 6 }, "no tasks")));
    rows.push(...owned.map(taskRow));
  }
  $("tasks").tBodies[0].replaceChildren(...rows);
}

function ownerRow(user, count) {
  const roles = (user.roles || []).join(", ") || "member";
  const token = user.tokens && user.tokens[0];
  return h(
    "tr",
    { class: "owner", "data-owner": user.username },
    h(
      "td",
      { colspan: 6 },
      h("span", { class: "username" }, user.username),
      `${user.name ? user.name + " · " : ""}${roles} · ${count} task${count === 1 ? "" : "s"}`,
      token ? h("span", { class: "token", title: "Send it as the Coder-Session-Token header" }, token) : null,
    ),
  );
}

function taskRow(task) {
  const state = task.current_state;
  const lifecycle = task.workspace_agent_lifecycle;
  const health = task.workspace_agent_health;
  return h(
    "tr",
    {
      class: `task${task.id === view.selected ? " selected" : ""}`,
      "data-task": `${task.owner_name}/${task.name}`,
      "data-task-id": task.id,
      onclick: () => select(task.id),
    },
    h(
      "td",
      {},
      h("div", { class: "task-name" }, task.display_name || task.name),
      h("div", { class: "task-ref" }, `${task.owner_name}/${task.name}`),
    ),
    h("td", { "data-field": "status" }, badge("status", task.status, task.in_motion)),
    h(
      "td",
      { "data-field": "current_state" },
      state ? [badge("state", state.state), h("span", { class: "state-message", title: state.message }, state.message)] : "—",
    ),
    h("td", { "data-field": "workspace_status" }, task.workspace_status || "—"),
    h("td", { "data-field": "build" }, task.workspace_build_number ? `#${task.workspace_build_number}` : "—"),
    h(
      "td",
      { "data-field": "agent", class: "muted" },
      lifecycle || "—",
      health ? h("span", { class: `health ${health.healthy ? "healthy" : "unhealthy"}`, title: healthText(health) }) : null,
    ),
  );
}

function agentText(task, build) {
  if (!task.workspace_agent_lifecycle) return "—";
  const parts = [task.workspace_agent_lifecycle];
  if (build && build.agent && build.agent.disconnected) parts.push("disconnected");
  if (task.workspace_agent_health) parts.push(task.workspace_agent_health.healthy ? "healthy" : "unhealthy");
  return parts.join(" · ");
}

function healthText(health) {
  return health.healthy ? "agent healthy" : `agent unhealthy${health.reason ? ": " + health.reason : ""}`;
}

function select(id) {
  view.selected = id;
  view.keys = { ...view.keys, tasks: null, detail: null, conversation: null };
  refresh();
}

function selectedTask() {
  return view.record ? view.record.task : null;
}

function renderDetail() {
  const task = selectedTask();
  $("detail-empty").hidden = Boolean(task);
  $("detail-content").hidden = !task;
  if (!task) return;
  const record = view.record.record;
  const builds = record.workspace.builds || [];
  const build = builds[builds.length - 1];
  const key = JSON.stringify([task, build]);
  if (view.keys.detail !== key) {
    view.keys.detail = key;
    $("detail-title").textContent = task.display_name || task.name;
    $("detail-ref").textContent = `${task.owner_name}/${task.name} · ${task.id}`;
    $("detail-status").replaceWith(Object.assign(badge("status", task.status, task.in_motion), { id: "detail-status" }));
    const state = task.current_state;
    const app = build && build.agent && build.agent.app;
    const facts = [
      ["Current state", state ? `${state.state}${state.message ? ": " + state.message : ""}` : "—"],
      ["Workspace", `${task.workspace_status || "—"}${task.workspace_build_number ? " · build #" + task.workspace_build_number : ""}`],
      ["Latest build", build ? `${build.transition} (${build.reason}) · job ${build.job.status}` : "—"],
      ["Agent", agentText(task, build)],
      ["App", app ? `${app.slug} · ${app.health}` : "—"],
      ["AgentAPI", task.agentapi_status || "—"],
      ["Template", templateText(task)],
      ["Preset", presetName(build)],
      ["Created", clockTime(task.created_at)],
      ["Updated", clockTime(task.updated_at)],
    ];
    $("detail-facts").replaceChildren(
      ...facts.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", { title: value }, value))),
    );
    const disconnected = Boolean(build && build.agent && build.agent.disconnected);
    $("disconnect").textContent = disconnected ? "Reconnect agent" : "Disconnect agent";
    $("disconnect").dataset.disconnected = String(disconnected);
    const signer = signerFor(task.owner_name);
    const as = signer ? signer.username : "nobody";
    $("owner-label").textContent = `As ${as}`;
    $("message").placeholder = `Message to the agent, sent as ${as}`;
  }
  renderConversation(record.conversation || []);
}

function renderConversation(conversation) {
  const key = JSON.stringify([view.selected, conversation]);
  if (view.keys.conversation === key) return;
  view.keys.conversation = key;
  const list = $("conversation");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const items = conversation.map((entry) =>
    h(
      "li",
      { class: entry.role === "user" ? "user" : "agent", "data-role": entry.role },
      h("span", { class: "meta" }, `${entry.role} · ${clockTime(entry.time)}`),
      h("div", { class: "bubble" }, entry.content),
    ),
  );
  if (items.length === 0) items.push(h("li", { class: "note" }, "No conversation yet."));
  list.replaceChildren(...items);
  if (atBottom || list.dataset.task !== view.selected) list.scrollTop = list.scrollHeight;
  list.dataset.task = view.selected;
}

function renderJournal() {
  const onlySelected = $("journal-selected").checked;
  let entries = view.requests;
  if (onlySelected) entries = entries.filter((entry) => entry.task_id === view.selected);
  const last = entries.length ? entries[entries.length - 1].id : 0;
  const key = JSON.stringify([entries.length, last, onlySelected, view.selected, [...view.expanded]]);
  if (view.keys.journal === key) return;
  view.keys.journal = key;
  $("request-count").textContent = view.journalTotal;
  $("requests-empty").hidden = entries.length > 0;
  const rows = [];
  for (const entry of entries.slice(-JOURNAL_ROWS).reverse()) {
    rows.push(requestRow(entry, entry.id > view.seen && view.seen > 0));
    if (view.expanded.has(entry.id)) rows.push(requestDetail(entry));
  }
  view.seen = Math.max(view.seen, last, 1);
  $("requests").tBodies[0].replaceChildren(...rows);
}

function requestRow(entry, fresh) {
  const query = new URLSearchParams(entry.query).toString();
  return h(
    "tr",
    {
      class: `request${fresh ? " fresh" : ""}`,
      "data-request-id": entry.id,
      "data-operation": entry.operation_id,
      title: "Show the request and the response",
      onclick: () => {
        if (view.expanded.has(entry.id)) view.expanded.delete(entry.id);
        else view.expanded.add(entry.id);
        renderJournal();
      },
    },
    h("td", { class: "muted" }, entry.id),
    h("td", { class: "mono" }, clockTime(entry.time)),
    h("td", {}, entry.user || h("span", { class: "muted" }, "anonymous")),
    h("td", {}, h("span", { class: "method" }, entry.method), h("span", { class: "path" }, entry.path + (query ? `?${query}` : ""))),
    h("td", {}, h("span", { class: `http http-${String(entry.status)[0]}` }, entry.status)),
    h("td", { class: "mono" }, entry.operation_id),
    h("td", { class: "num muted" }, entry.duration_ms.toFixed(1)),
  );
}

function requestDetail(entry) {
  const pretty = (value) => (value === null || value === undefined ? "(empty)" : JSON.stringify(value, null, 2));
  return h(
    "tr",
    { class: "request-detail" },
    h(
      "td",
      { colspan: 7 },
      h(
        "div",
        { class: "exchange" },
        h(
          "div",
          {},
          h("span", { class: "label" }, "request"),
          h("span", { class: "token-note" }, entry.token ? ` token ${entry.token}` : " no token"),
          h("pre", {}, pretty(entry.body)),
        ),
        h("div", {}, h("span", { class: "label" }, `response · ${entry.status}`), h("pre", {}, pretty(entry.response))),
      ),
    ),
  );
}

// ---------------------------------------------------------------- actions

function taskPath(task, suffix) {
  return `tasks/${encodeURIComponent(task.owner_name)}/${encodeURIComponent(task.id)}${suffix}`;
}

function withTask(label, action) {
  const task = selectedTask();
  if (!task) return;
  act(`${label} ${task.owner_name}/${task.name}`, () => action(task));
}

function controlTask(task, method, suffix, body) {
  return control(method, `tasks/${encodeURIComponent(task.id)}${suffix}`, body);
}

function wire() {
  for (const button of document.querySelectorAll("[data-seconds]")) {
    button.addEventListener("click", () => {
      const seconds = Number(button.dataset.seconds);
      act(`Clock +${seconds}s`, async () => {
        const result = await control("POST", "clock/advance", { seconds });
        return { note: `${result.data.applied} transition${result.data.applied === 1 ? "" : "s"} applied` };
      });
    });
  }
  $("clock-toggle").addEventListener("click", () => {
    const mode = view.state && view.state.clock.mode === "real" ? "manual" : "real";
    act(`Clock: ${mode}`, () => control("PUT", "clock", { mode }));
  });
  $("reset").addEventListener("click", () => {
    view.expanded.clear();
    act("Reset", async () => {
      const result = await control("POST", "reset");
      return { note: `${result.data.users} users, ${result.data.tasks} tasks` };
    });
  });
  $("clear-requests").addEventListener("click", () => act("Clear requests", () => control("DELETE", "requests")));
  $("journal-selected").addEventListener("change", renderJournal);
  $("new-version").addEventListener("change", renderPresetChoice);

  $("pause").addEventListener("click", () =>
    withTask("Pause", (task) => api("POST", taskPath(task, "/pause"), task.owner_name)),
  );
  $("resume").addEventListener("click", () =>
    withTask("Resume", (task) => api("POST", taskPath(task, "/resume"), task.owner_name)),
  );
  $("delete").addEventListener("click", () =>
    withTask("Delete", async (task) => {
      const result = await api("DELETE", taskPath(task, ""), task.owner_name);
      view.selected = null;
      return result;
    }),
  );
  $("fail-build").addEventListener("click", () =>
    withTask("Fail build of", (task) =>
      controlTask(task, "PUT", "/job", { status: "failed", error: "failed from the fakeserver dashboard" }),
    ),
  );
  $("finish-build").addEventListener("click", () =>
    withTask("Finish build of", (task) => controlTask(task, "PUT", "/job", { status: "succeeded" })),
  );
  $("set-health").addEventListener("click", () => {
    const health = $("app-health").value;
    withTask(`App ${health}:`, (task) => controlTask(task, "PATCH", "/app", { health }));
  });
  $("disconnect").addEventListener("click", () => {
    const disconnected = $("disconnect").dataset.disconnected !== "true";
    withTask(disconnected ? "Disconnect agent of" : "Reconnect agent of", (task) =>
      controlTask(task, "PATCH", "/agent", { disconnected }),
    );
  });
  $("agent-status").addEventListener("submit", (event) => {
    event.preventDefault();
    const state = $("agent-state").value;
    const message = $("agent-message").value;
    withTask(`Agent ${state}:`, (task) => controlTask(task, "POST", "/app-status", { state, message }));
  });
  $("agent-output").addEventListener("submit", (event) => {
    event.preventDefault();
    const content = $("agent-says").value;
    if (!content) return;
    $("agent-says").value = "";
    withTask("Agent output to", (task) => controlTask(task, "POST", "/output", { content }));
  });
  $("send").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("message").value;
    if (!input) return;
    $("message").value = "";
    withTask("Send to", (task) => api("POST", taskPath(task, "/send"), task.owner_name, { input }));
  });
  $("new-task").addEventListener("submit", (event) => {
    event.preventDefault();
    const owner = $("new-owner").value;
    const body = { template_version_id: $("new-version").value, input: $("new-prompt").value };
    if ($("new-preset").value) body.template_version_preset_id = $("new-preset").value;
    act(`Create a task for ${owner}`, async () => {
      const result = await api("POST", `tasks/${encodeURIComponent(owner)}`, owner, body);
      $("new-prompt").value = "";
      view.selected = result.data.id;
      return { status: result.status, note: `${result.data.owner_name}/${result.data.name}` };
    });
  });
}

// ---------------------------------------------------------------- worlds

// This page's world: /w/<name>/__fake__/ is a named world of `fakeserver serve`, /__fake__/ the default.
const WORLD = (location.pathname.match(/^\/w\/([^/]+)\/__fake__\//) || [])[1] || "";
const ROOT_CONTROL = new URL("/__fake__/", location.href);
const WORLDS_POLL_MS = 5000;

function worldPage(name) {
  return new URL(name ? `/w/${encodeURIComponent(name)}/__fake__/` : "/__fake__/", location.href).href;
}

async function refreshWorlds() {
  let names = [];
  try {
    names = (await call(ROOT_CONTROL, "GET", "worlds")).data.worlds.map((world) => world.name);
  } catch {
    // served in process, or an older server: only this world
  }
  if (WORLD && !names.includes(WORLD)) names.push(WORLD);
  const select = $("world");
  const options = [h("option", { value: "" }, "default"), ...names.sort().map((name) => h("option", { value: name }, name))];
  select.replaceChildren(...options);
  select.value = WORLD;
}

$("world").addEventListener("change", (event) => {
  location.assign(worldPage(event.target.value));
});

wire();
refresh();
refreshWorlds();
setInterval(refresh, POLL_MS);
setInterval(refreshWorlds, WORLDS_POLL_MS);
