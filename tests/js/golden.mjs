// Runs golden cases on a live widget's JS module: node golden.mjs MODULE.mjs CASES.json
// Each case {fn, args, expected, label, atol?}: calls module[fn](...args) and compares deeply
// (numbers exactly, or within atol). Prints one line per failure and a final count; exits 1 on any failure.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [modulePath, casesPath] = process.argv.slice(2);
const mod = await import(pathToFileURL(modulePath).href);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));

function diff(got, expected, atol, path) {
  if (typeof expected === "number") {
    if (typeof got !== "number") return `${path}: expected a number ${expected}, got ${JSON.stringify(got)}`;
    const ok = atol ? Math.abs(got - expected) <= atol : got === expected;
    return ok ? null : `${path}: expected ${expected}, got ${got}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(got)) return `${path}: expected an array, got ${JSON.stringify(got)}`;
    if (got.length !== expected.length) return `${path}: expected length ${expected.length}, got ${got.length}`;
    for (let i = 0; i < expected.length; i++) {
      const d = diff(got[i], expected[i], atol, `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (expected !== null && typeof expected === "object") {
    if (got === null || typeof got !== "object") return `${path}: expected an object, got ${JSON.stringify(got)}`;
    for (const key of Object.keys(expected)) {
      const d = diff(got[key], expected[key], atol, `${path}.${key}`);
      if (d) return d;
    }
    return null;
  }
  return got === expected ? null : `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`;
}

let failed = 0;
for (const c of cases) {
  if (typeof mod[c.fn] !== "function") {
    console.log(`FAIL ${c.label}: the module exports no function ${c.fn}`);
    failed++;
    continue;
  }
  let got;
  try {
    got = mod[c.fn](...c.args);
  } catch (error) {
    console.log(`FAIL ${c.label}: ${c.fn} threw ${error}`);
    failed++;
    continue;
  }
  const d = diff(got, c.expected, c.atol || 0, c.fn);
  if (d) {
    console.log(`FAIL ${c.label}: ${d}`);
    failed++;
  }
}
console.log(`checked ${cases.length} cases, ${failed} failed`);
process.exit(failed ? 1 : 0);
