// Chapter 17's live widget: the decoder's M-RoPE frequency slots, chunked (Qwen2.5-VL) or interleaved
// (Qwen3-VL), for any mrope_section and head_dim; which axis owns each slot, and each slot's angle for a
// chosen position (t, h, w). The maths is mrope_slots.js (checked in CI against qwen_lite.rope.slot_axes).
import { PALETTE, addStyle, choiceControl, fill, h, injectStyle, legend, readouts, setAndSave, t, watch } from "./common.js";
import { AXIS_NAMES, formatSlots, sectionProblem, slotAngles, slotAxes, slotFrequencies, changedSlots } from "./mrope_slots.js";

const AXIS_COLOR = [PALETTE.blue, PALETTE.orange, PALETTE.green];
const STRIP_W = 640; // px for all the slots of one strip
const STRIP_H = 22;
const LEFT = 86; // px for the row labels
const PLOT_H = 150; // px of the angle chart
const HEAD_DIMS = [8, 16, 32, 64, 80, 96, 128, 160, 192, 256];

function fmt(x) {
  return String(Number(x.toPrecision(5)));
}

async function render({ model, el }) {
  injectStyle(el.ownerDocument);
  addStyle(el.ownerDocument, "ql-mrope-slots-style", ".ql-mrope-slots input[type=number] { width: 4.5em; }");
  const modeName = (m) => t("mrope_slots.mode." + m, m, el);
  const mode = choiceControl(model, "mode", t("mrope_slots.layout", "layout", el), [
    ["chunked", modeName("chunked") + " (Qwen2.5-VL)"],
    ["interleaved", modeName("interleaved") + " (Qwen3-VL)"],
  ]);
  const headSelect = h("select", { "data-field": "head_dim" }, ...HEAD_DIMS.map((d) => h("option", { value: d }, d)));
  const secInputs = [0, 1].map((k) => h("input", { type: "number", min: 0, step: 1, "data-field": "sec_" + AXIS_NAMES[k] }));
  const secW = h("b", { "data-role": "sec_w" });
  const posInputs = [0, 1, 2].map((k) => h("input", { type: "number", min: 0, max: 100000, step: 1, "data-field": "pos_" + AXIS_NAMES[k] }));
  const strips = h("canvas", { "data-role": "strips", title: t("mrope_slots.click", "click a slot", el) });
  const chart = h("canvas", { "data-role": "angles", title: t("mrope_slots.click", "click a slot", el) });
  const message = h("p", { class: "ql-error", "data-role": "message" });
  const info = readouts([
    ["section", t("mrope_slots.section", "mrope_section (t, h, w)", el)],
    ["counts", t("mrope_slots.counts", "slots each axis owns (t, h, w)", el)],
    ["slots_t", fill(t("mrope_slots.owned", "slots owned by {axis}", el), { axis: "t" })],
    ["slots_h", fill(t("mrope_slots.owned", "slots owned by {axis}", el), { axis: "h" })],
    ["slots_w", fill(t("mrope_slots.owned", "slots owned by {axis}", el), { axis: "w" })],
    ["span", t("mrope_slots.span", "fastest and slowest slot of each axis", el)],
    ["changed", t("mrope_slots.changed", "slots whose axis differs between the layouts", el)],
    ["position", t("mrope_slots.position", "position ids (t, h, w)", el)],
    ["slot", t("mrope_slots.slot", "selected slot", el)],
    ["slot_axis", t("mrope_slots.slot_axis", "its axis", el)],
    ["slot_speed", t("mrope_slots.slot_speed", "its speed ω (radians per id)", el)],
    ["slot_angle", t("mrope_slots.slot_angle", "its angle (radians)", el)],
  ]);
  el.append(
    h(
      "div",
      { class: "ql-widget ql-mrope-slots" },
      h("div", { class: "ql-row" }, mode.el),
      h(
        "div",
        { class: "ql-row" },
        h("label", {}, "head_dim", headSelect),
        h("label", {}, "mrope_section: t", secInputs[0]),
        h("label", {}, "h", secInputs[1]),
        h("label", {}, "w =", secW),
      ),
      h(
        "div",
        { class: "ql-row" },
        h("span", {}, t("mrope_slots.token", "a token at", el)),
        ...posInputs.map((input, k) => h("label", {}, AXIS_NAMES[k], input)),
      ),
      legend([
        [AXIS_COLOR[0], t("mrope_slots.legend.t", "t: temporal id", el)],
        [AXIS_COLOR[1], t("mrope_slots.legend.h", "h: row id", el)],
        [AXIS_COLOR[2], t("mrope_slots.legend.w", "w: column id", el)],
      ]),
      message,
      h("div", { style: "overflow-x:auto" }, strips),
      h("div", { style: "overflow-x:auto" }, chart),
      info.el,
    ),
  );

  const half = () => model.get("head_dim") / 2;
  function saveSection(st, sh) {
    const n = half();
    st = Math.max(0, Math.min(n, Math.round(st)));
    sh = Math.max(0, Math.min(n - st, Math.round(sh)));
    setAndSave(model, { mrope_section: [st, sh, n - st - sh] });
  }
  secInputs[0].addEventListener("change", () => {
    const v = Number(secInputs[0].value);
    if (Number.isFinite(v)) saveSection(v, model.get("mrope_section")[1]);
    draw();
  });
  secInputs[1].addEventListener("change", () => {
    const v = Number(secInputs[1].value);
    if (Number.isFinite(v)) saveSection(model.get("mrope_section")[0], v);
    draw();
  });
  headSelect.addEventListener("change", () => {
    const d = Number(headSelect.value);
    const [st, sh] = model.get("mrope_section");
    const n = d / 2;
    const a = Math.min(st, n);
    const b = Math.min(sh, n - a);
    setAndSave(model, { head_dim: d, mrope_section: [a, b, n - a - b], slot: Math.min(model.get("slot"), n - 1) });
  });
  posInputs.forEach((input, k) =>
    input.addEventListener("change", () => {
      const v = Math.round(Number(input.value));
      const pos = model.get("position").slice();
      if (Number.isFinite(v)) pos[k] = Math.max(0, Math.min(100000, v));
      setAndSave(model, { position: pos });
      draw();
    }),
  );

  function cellWidth(n) {
    return Math.max(4, Math.min(24, Math.floor(STRIP_W / n)));
  }

  function draw() {
    mode.sync();
    const section = model.get("mrope_section").map(Number);
    const headDim = model.get("head_dim");
    const interleaved = model.get("mode") === "interleaved";
    const position = model.get("position").map(Number);
    headSelect.value = String(headDim);
    secInputs[0].value = String(section[0]);
    secInputs[1].value = String(section[1]);
    secInputs[0].max = secInputs[1].max = String(headDim / 2);
    secW.textContent = String(section[2]);
    posInputs.forEach((input, k) => (input.value = String(position[k])));
    const problem = sectionProblem(section, headDim);
    message.textContent = problem;
    if (problem) return;
    const n = headDim / 2;
    const slot = Math.max(0, Math.min(model.get("slot"), n - 1));
    const cw = cellWidth(n);
    const axes = slotAxes(section, interleaved);

    // Two strips, chunked above interleaved; the chosen layout is outlined, the chosen slot marked.
    strips.width = LEFT + n * cw + 4;
    strips.height = 2 * (STRIP_H + 8) + 18;
    Object.assign(strips.dataset, { left: LEFT, cell: cw, rowH: STRIP_H + 8, slots: n });
    const ctx = strips.getContext("2d");
    ctx.clearRect(0, 0, strips.width, strips.height);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    [false, true].forEach((inter, r) => {
      const y0 = r * (STRIP_H + 8);
      const rowAxes = slotAxes(section, inter);
      ctx.fillStyle = "#555";
      ctx.textAlign = "right";
      ctx.fillText(modeName(inter ? "interleaved" : "chunked"), LEFT - 6, y0 + STRIP_H / 2);
      rowAxes.forEach((a, i) => {
        ctx.fillStyle = AXIS_COLOR[a];
        ctx.fillRect(LEFT + i * cw, y0, cw - 1, STRIP_H);
      });
      if (inter === interleaved) {
        ctx.strokeStyle = "#222";
        ctx.lineWidth = 2;
        ctx.strokeRect(LEFT - 1, y0 - 1, n * cw + 1, STRIP_H + 2);
      }
    });
    ctx.strokeStyle = PALETTE.vermillion;
    ctx.lineWidth = 2;
    ctx.strokeRect(LEFT + slot * cw - 1, 0, cw + 1, 2 * (STRIP_H + 8) - 6);
    ctx.fillStyle = "#555";
    ctx.textAlign = "center";
    const tick = n <= 32 ? 4 : n <= 64 ? 8 : 16;
    for (let i = 0; i < n; i += tick) ctx.fillText(String(i), LEFT + i * cw + cw / 2, 2 * (STRIP_H + 8) + 8);
    ctx.textAlign = "right";
    ctx.fillText(t("mrope_slots.fast", "slot (fast → slow)", el), LEFT - 6, 2 * (STRIP_H + 8) + 8);

    // The angle of every slot for the chosen position, log scale, coloured by the slot's axis.
    const angles = slotAngles(section, headDim, model.get("theta"), interleaved, position);
    chart.width = strips.width;
    chart.height = PLOT_H + 30;
    Object.assign(chart.dataset, { left: LEFT, cell: cw, slots: n });
    const g = chart.getContext("2d");
    g.clearRect(0, 0, chart.width, chart.height);
    const positive = angles.filter((a) => a > 0);
    const lo = Math.floor(Math.log10(Math.min(...positive, 1e-3)));
    const hi = Math.ceil(Math.log10(Math.max(...positive, 1)));
    const Y = (a) => PLOT_H - ((Math.log10(a) - lo) / Math.max(1, hi - lo)) * (PLOT_H - 10);
    g.font = "10px system-ui, sans-serif";
    g.fillStyle = "#555";
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let e = lo; e <= hi; e += Math.max(1, Math.ceil((hi - lo) / 5))) {
      g.fillText("1e" + e, LEFT - 6, Y(Math.pow(10, e)));
      g.strokeStyle = "#ddd";
      g.beginPath();
      g.moveTo(LEFT, Y(Math.pow(10, e)));
      g.lineTo(LEFT + n * cw, Y(Math.pow(10, e)));
      g.stroke();
    }
    angles.forEach((a, i) => {
      if (!(a > 0)) return;
      g.fillStyle = AXIS_COLOR[axes[i]];
      g.fillRect(LEFT + i * cw, Y(a), cw - 1, PLOT_H - Y(a));
    });
    g.strokeStyle = PALETTE.vermillion;
    g.lineWidth = 2;
    g.strokeRect(LEFT + slot * cw - 1, 4, cw + 1, PLOT_H - 4);
    g.fillStyle = "#555";
    g.textAlign = "center";
    g.fillText(t("mrope_slots.axis_angle", "angle of each slot (radians, log scale; no bar: angle 0)", el), LEFT + (n * cw) / 2, PLOT_H + 18);

    const counts = [0, 1, 2].map((k) => axes.filter((a) => a === k).length);
    const owned = [0, 1, 2].map((k) => axes.map((a, i) => (a === k ? i : -1)).filter((i) => i >= 0));
    const freqs = slotFrequencies(headDim, model.get("theta"));
    info.set("section", section.join(", "));
    info.set("counts", counts.join(", "));
    AXIS_NAMES.forEach((name, k) => info.set("slots_" + name, formatSlots(owned[k])));
    info.set("span", AXIS_NAMES.map((name, k) => `${name} ${owned[k].length ? owned[k][0] + "–" + owned[k][owned[k].length - 1] : "(none)"}`).join(", "));
    info.set("changed", `${changedSlots(section)} of ${n}`);
    info.set("position", `(${position.join(", ")})`);
    info.set("slot", slot);
    info.set("slot_axis", AXIS_NAMES[axes[slot]]);
    info.set("slot_speed", fmt(freqs[slot]));
    info.set("slot_angle", fmt(angles[slot]));
  }

  function clickSlot(canvas, event) {
    const box = canvas.getBoundingClientRect();
    const x = (event.clientX - box.left) * (canvas.width / box.width);
    const i = Math.floor((x - Number(canvas.dataset.left)) / Number(canvas.dataset.cell));
    if (i < 0 || i >= Number(canvas.dataset.slots)) return;
    setAndSave(model, { slot: i });
  }
  strips.addEventListener("click", (event) => clickSlot(strips, event));
  chart.addEventListener("click", (event) => clickSlot(chart, event));
  return watch(model, ["mrope_section", "head_dim", "mode", "position", "slot", "theta"], draw);
}

export default { render };
