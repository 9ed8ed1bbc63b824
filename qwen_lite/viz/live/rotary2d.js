// Chapter 3's live widget: the rotary score of a query and a key as a function of their offset
// (Δrow, Δcol), for the band of frequencies the reader picks. The scores come from rotary.js (checked
// in CI against qwen_lite.vision.VisionRotaryEmbedding + apply_rotary on real tensors).
import { PALETTE, fill, h, injectStyle, legend, readouts, setAndSave, t, watch } from "./common.js";
import { bandPairs, rotaryFrequencies, scoreMap } from "./rotary.js";

const VIEW = 400; // px of the heat map's side

// -1 -> blue, 0 -> white, +1 -> vermillion (a diverging pair that colour-blind readers tell apart).
function scoreColor(v) {
  const end = v < 0 ? [0, 114, 178] : [213, 94, 0];
  const t = Math.min(1, Math.abs(v));
  const c = end.map((e) => Math.round(255 + (e - 255) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function fmtScore(x) {
  return x.toFixed(4);
}

async function render({ model, el }) {
  injectStyle(el.ownerDocument);
  const quarter = () => model.get("head_dim") / 4;
  const map = h("canvas", { "data-role": "map", title: t("rotary2d.click", "click a cell", el) });
  const lo = h("input", { type: "range", min: 0, step: 1, "data-field": "lo" });
  const hi = h("input", { type: "range", min: 0, step: 1, "data-field": "hi" });
  const axes = h(
    "select",
    { "data-field": "axes" },
    h("option", { value: "both" }, t("rotary2d.axes.both", "rows and columns", el)),
    h("option", { value: "row" }, t("rotary2d.axes.row", "rows only", el)),
    h("option", { value: "column" }, t("rotary2d.axes.column", "columns only", el)),
  );
  const radius = h(
    "select",
    { "data-field": "radius" },
    ...[8, 16, 32].map((r) => h("option", { value: r }, fill(t("rotary2d.radius", "±{r} patches", el), { r }))),
  );
  const loText = h("span", { "data-role": "lo" });
  const hiText = h("span", { "data-role": "hi" });
  const info = readouts([
    ["band", t("rotary2d.band", "band (frequencies i)", el)],
    ["speeds", t("rotary2d.speeds", "their speeds θ_i (rad per patch)", el)],
    ["offset", t("rotary2d.offset", "selected offset (Δrow, Δcol)", el)],
    ["score", t("rotary2d.score", "score at that offset", el)],
    ["origin", t("rotary2d.origin", "score at (0, 0)", el)],
    ["min", t("rotary2d.min", "lowest score on the map", el)],
  ]);
  el.append(
    h(
      "div",
      { class: "ql-widget" },
      h(
        "div",
        { class: "ql-row" },
        h("label", {}, t("rotary2d.lo", "lowest i", el), lo, loText),
        h("label", {}, t("rotary2d.hi", "highest i", el), hi, hiText),
        h("label", {}, t("rotary2d.pairs", "pairs", el), axes),
        h("label", {}, t("rotary2d.offsets", "offsets", el), radius),
      ),
      h("div", { class: "ql-row" }, map, info.el),
      legend([
        [scoreColor(1), t("rotary2d.legend.plus", "score +1 (same direction)", el)],
        [scoreColor(0), "0"],
        [scoreColor(-1), t("rotary2d.legend.minus", "−1 (opposite)", el)],
        [PALETTE.green, t("rotary2d.legend.selected", "selected offset", el)],
      ]),
    ),
  );

  function band() {
    return { lo: model.get("lo"), hi: model.get("hi"), axes: model.get("axes") };
  }

  function draw() {
    const headDim = model.get("head_dim");
    const theta = model.get("theta");
    const R = model.get("radius");
    const b = band();
    lo.max = hi.max = quarter() - 1;
    lo.value = b.lo;
    hi.value = b.hi;
    loText.textContent = b.lo;
    hiText.textContent = b.hi;
    axes.value = b.axes;
    radius.value = String(R);
    const scores = scoreMap(R, b, headDim, theta);
    const n = 2 * R + 1;
    const cell = Math.floor(VIEW / n);
    map.width = map.height = cell * n + 30;
    Object.assign(map.dataset, { cell, radius: R, left: 30, top: 0 });
    const ctx = map.getContext("2d");
    ctx.clearRect(0, 0, map.width, map.height);
    let min = Infinity;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        min = Math.min(min, scores[r][c]);
        ctx.fillStyle = scoreColor(scores[r][c]);
        ctx.fillRect(30 + c * cell, r * cell, cell, cell);
      }
    }
    // axes: Δcol along the bottom, Δrow down the left
    ctx.fillStyle = "#444";
    ctx.font = "10px system-ui, sans-serif";
    ctx.textAlign = "center";
    for (const d of [-R, -R / 2, 0, R / 2, R]) {
      ctx.fillText(String(d), 30 + (d + R) * cell + cell / 2, n * cell + 11);
      ctx.textAlign = "right";
      ctx.fillText(String(d), 26, (d + R) * cell + cell / 2 + 3);
      ctx.textAlign = "center";
    }
    ctx.fillText(t("rotary2d.axis.col", "Δcol (key − query)", el), 30 + (n * cell) / 2, n * cell + 24);
    ctx.save();
    ctx.translate(8, (n * cell) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText("Δrow", 0, 0);
    ctx.restore();
    const dr = Math.max(-R, Math.min(R, model.get("d_row")));
    const dc = Math.max(-R, Math.min(R, model.get("d_col")));
    ctx.strokeStyle = PALETTE.green;
    ctx.lineWidth = 2;
    ctx.strokeRect(30 + (dc + R) * cell, (dr + R) * cell, cell, cell);

    const freqs = rotaryFrequencies(headDim, theta);
    const pairs = bandPairs(b, headDim);
    info.set("band", `${b.lo}–${b.hi} (${pairs.length} pairs: ${b.axes === "both" ? "rows and columns" : b.axes + "s"})`);
    info.set("speeds", `${freqs[b.hi].toPrecision(3)} to ${freqs[b.lo].toPrecision(3)}`);
    info.set("offset", `(${dr}, ${dc})`);
    info.set("score", fmtScore(scores[dr + R][dc + R]));
    info.set("origin", fmtScore(scores[R][R]));
    info.set("min", fmtScore(min));
  }

  lo.addEventListener("input", () => {
    const v = Number(lo.value);
    setAndSave(model, { lo: v, hi: Math.max(v, model.get("hi")) });
  });
  hi.addEventListener("input", () => {
    const v = Number(hi.value);
    setAndSave(model, { hi: v, lo: Math.min(v, model.get("lo")) });
  });
  axes.addEventListener("change", () => setAndSave(model, { axes: axes.value }));
  radius.addEventListener("change", () => setAndSave(model, { radius: Number(radius.value) }));
  map.addEventListener("click", (event) => {
    const box = map.getBoundingClientRect();
    const x = (event.clientX - box.left) * (map.width / box.width);
    const y = (event.clientY - box.top) * (map.height / box.height);
    const cell = Number(map.dataset.cell);
    const R = model.get("radius");
    const c = Math.floor((x - 30) / cell);
    const r = Math.floor(y / cell);
    if (c < 0 || r < 0 || c > 2 * R || r > 2 * R) return;
    setAndSave(model, { d_row: r - R, d_col: c - R });
  });
  return watch(model, ["lo", "hi", "axes", "radius", "d_row", "d_col", "head_dim", "theta"], draw);
}

export default { render };
