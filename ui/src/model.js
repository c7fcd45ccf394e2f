// What the page knows of the datamodel: /ui/model.json, derived by the daemon from the
// datamodel itself (lifecycle table, error sentences, root-only methods), so the page
// never holds its own copy of those rules.

let facts = { lifecycle: [], errors: {}, root_only: [], enums: {},
  debug: { sysrq_keys: [], triggers: [] } };
let allowed = new Set();
let rootOnlySet = new Set();

export async function load() {
  const response = await fetch("model.json");
  if (!response.ok) throw new Error(`model.json: HTTP ${response.status}`);
  facts = await response.json();
  allowed = new Set(facts.lifecycle.map((row) => `${row.state}/${row.op}`));
  rootOnlySet = new Set(facts.root_only);
}

// Whether VM operation `op` is allowed in power state `state` (lifecycle.TABLE).
export function allowedIn(state, op) {
  return allowed.has(`${state}/${op}`);
}

// The documented sentence of error `code`, its parameters filled in by name; for a
// code the model does not know, the parameters as they came.
export function sentence(code, params = []) {
  const error = facts.errors[code];
  if (!error) return params.join(" ");
  return error.sentence.replace(/\{([^}]+)\}/g, (whole, name) => {
    const i = error.params.indexOf(name);
    return i >= 0 && i < params.length ? String(params[i]) : whole;
  });
}

// Whether only root may call `method` (e.g. "host.disable").
export function rootOnly(method) {
  return rootOnlySet.has(method);
}

// Whether a template may undergo VM operation `op` (the others are VM_IS_TEMPLATE).
export function templateMay(op) {
  return facts.template_ops.includes(op);
}

// The power states in which VM operation `op` is allowed, in the table's order (empty
// for an operation the table does not name).
export function statesAllowing(op) {
  return facts.lifecycle.filter((row) => row.op === op).map((row) => row.state);
}

// The values of the datamodel's enumeration `name` (e.g. "on_normal_exit"), in order.
export function enumValues(name) {
  return facts.enums[name] || [];
}

// What VM.send_sysrq and VM.send_trigger take: {sysrq_keys, triggers}.
export function debugChoices() {
  return facts.debug;
}
