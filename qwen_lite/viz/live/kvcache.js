// Chapter 11's live widget: what one generation step computes, with and without the KV cache, for any
// prompt length and step. The counts come from cache_steps.js (checked in CI against what
// qwen_lite.generation.generate feeds its forward passes).
import { PALETTE, h, injectStyle, legend, readouts, setAndSave, t, watch } from "./common.js";
import { generationSteps, stepWork } from "./cache_steps.js";

const GRID = 360; // px of the attention grid's side
const MASKED = "#e6e6e6";
const DONE = "#ffffff";

async function render({ model, el }) {
  injectStyle(el.ownerDocument);
  const canvas = h("canvas", { "data-role": "steps" });
  const prompt = h("input", { type: "number", min: 1, max: 64, step: 1, "data-field": "prompt_len" });
  const step = h("input", { type: "range", min: 0, step: 1, "data-field": "step" });
  const stepText = h("span", { "data-role": "step" });
  const cache = h("input", { type: "checkbox", "data-field": "use_cache" });
  const info = readouts([
    ["what", t("kvcache.what", "this step", el)],
    ["length", t("kvcache.length", "tokens in the sequence", el)],
    ["queries", t("kvcache.queries", "tokens computed (queries, keys, values)", el)],
    ["cached", t("kvcache.cached", "keys/values read from the cache", el)],
    ["total", t("kvcache.total", "tokens computed so far (all steps)", el)],
  ]);
  el.append(
    h(
      "div",
      { class: "ql-widget" },
      h(
        "div",
        { class: "ql-row" },
        h("label", {}, t("kvcache.prompt", "prompt tokens", el), prompt),
        h("label", {}, t("kvcache.step", "step", el), step, stepText),
        h("label", {}, cache, t("kvcache.cache", "KV cache", el)),
      ),
      h("div", { class: "ql-row" }, canvas, info.el),
      legend([
        [PALETTE.orange, t("kvcache.legend.now", "computed at this step", el)],
        [PALETTE.blue, t("kvcache.legend.cached", "keys/values read from the cache", el)],
        [DONE, t("kvcache.legend.done", "computed at an earlier step", el)],
        [MASKED, t("kvcache.legend.masked", "masked (the future)", el)],
      ]),
    ),
  );

  function draw() {
    const L = model.get("prompt_len");
    const s = model.get("step");
    const useCache = model.get("use_cache");
    const maxStep = model.get("max_step");
    prompt.value = L;
    step.max = maxStep;
    step.value = s;
    stepText.textContent = s === 0 ? t("kvcache.prefill", "prefill", el) : String(s);
    cache.checked = useCache;
    const work = stepWork(L, s, useCache);
    const n = work.length;
    const cell = Math.max(2, Math.floor(GRID / n));
    const top = 40;
    canvas.width = 40 + n * cell + 2;
    canvas.height = top + n * cell + 30;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    // K, V row: computed now or read from the cache
    for (let k = 0; k < n; k++) {
      ctx.fillStyle = k >= work.queryFirst ? PALETTE.orange : PALETTE.blue;
      ctx.fillRect(40 + k * cell, 6, cell - (cell > 4 ? 1 : 0), 22);
    }
    ctx.fillStyle = "#444";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.fillText("K, V", 36, 21);
    // attention: query rows x key columns, causal
    for (let q = 0; q < n; q++) {
      for (let k = 0; k < n; k++) {
        const now = q >= work.queryFirst;
        ctx.fillStyle = k > q ? MASKED : now ? PALETTE.orange : DONE;
        ctx.fillRect(40 + k * cell, top + q * cell, cell - (cell > 4 ? 1 : 0), cell - (cell > 4 ? 1 : 0));
      }
    }
    ctx.strokeStyle = "#999";
    ctx.strokeRect(40, top, n * cell, n * cell);
    ctx.setLineDash([3, 3]);
    ctx.strokeStyle = "#000";
    ctx.beginPath();
    ctx.moveTo(40 + L * cell, top - 36);
    ctx.lineTo(40 + L * cell, top + n * cell);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#444";
    ctx.textAlign = "center";
    ctx.fillText(t("kvcache.axis.key", "key position (dotted: end of the prompt)", el), 40 + (n * cell) / 2, top + n * cell + 16);
    ctx.save();
    ctx.translate(14, top + (n * cell) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(t("kvcache.axis.query", "query position", el), 0, 0);
    ctx.restore();

    const steps = generationSteps(L, s, useCache);
    info.set("what", `${s === 0 ? "prefill" : "decode step " + s}, ${useCache ? "with" : "without"} the cache`);
    info.set("length", n);
    info.set("queries", work.queryCount);
    info.set("cached", work.cached);
    info.set("total", steps.reduce((sum, w) => sum + w.queryCount, 0));
  }

  prompt.addEventListener("change", () => {
    const v = Math.max(1, Math.min(64, Math.round(Number(prompt.value)) || 1));
    prompt.value = v;
    setAndSave(model, { prompt_len: v });
  });
  step.addEventListener("input", () => setAndSave(model, { step: Number(step.value) }));
  cache.addEventListener("change", () => setAndSave(model, { use_cache: cache.checked }));
  return watch(model, ["prompt_len", "step", "use_cache", "max_step"], draw);
}

export default { render };
