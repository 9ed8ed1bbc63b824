// Chapter 4's live widget: any image size, a window or a full block, a click picks the query patch.
// Shows the patches the query may attend to (on the photo, resized live), the 112 px window grid
// with the windows numbered in window order, and the attention mask in window order.
import {
  PALETTE,
  addStyle,
  choiceControl,
  eventPixel,
  formatCount,
  h,
  injectStyle,
  legend,
  loadImage,
  numberControl,
  outline,
  readouts,
  setAndSave,
  t,
  tag,
  watch,
} from "./common.js";
import { attentionGroups, windowIndex, windowSummary } from "./windows.js";

const PHOTO_BOX = 340; // the longest side of the photo on screen, in CSS pixels
const MASK = 240; // the mask's side on screen
const MAX_SIDE = 2240; // the largest width or height offered, in image pixels
const MASKED = "rgba(153,153,153,0.28)"; // a masked (query, key) pair: grey, visible on light and dark pages

const CSS = `
.ql-window .ql-control { margin-right: 14px; }
.ql-window .ql-control input[type=range] { width: 130px; }
.ql-window .ql-control input[type=number] { width: 5em; }
.ql-window canvas { max-width: 100%; }
.ql-window .ql-caption { font-size: 12px; opacity: 0.85; max-width: ${MASK}px; }
`;

// "64 × 4, 48 × 3, 36 × 1": how many windows have each length (longest first).
function lengthCounts(lengths) {
  const counts = new Map();
  for (const n of lengths) counts.set(n, (counts.get(n) || 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([n, k]) => `${n} × ${k}`)
    .join(", ");
}

async function render({ model, el }) {
  injectStyle(el.ownerDocument);
  addStyle(el.ownerDocument, "ql-window-style", CSS);
  const photo = await loadImage(model.get("image"));
  const unit = () => model.get("patch_size") * model.get("merge_size");
  const controls = [
    numberControl(model, "width", t("window_attention.width", "width", el), unit(), MAX_SIDE, unit(), "px"),
    numberControl(model, "height", t("window_attention.height", "height", el), unit(), MAX_SIDE, unit(), "px"),
    choiceControl(model, "window", t("window_attention.block", "block", el), [
      [true, t("window_attention.block.window", "window", el)],
      [false, t("window_attention.block.full", "full", el)],
    ]),
  ];
  const main = h("canvas", { "data-role": "photo", title: t("window_attention.click", "click a patch to make it the query", el) });
  const mask = h("canvas", { "data-role": "mask", width: MASK, height: MASK });
  const info = readouts([
    ["size", t("window_attention.size", "image (w × h)", el)],
    ["grid", t("window_attention.grid", "patch grid (w × h)", el)],
    ["query", t("window_attention.query", "query patch (row, col)", el)],
    ["query_row", t("window_attention.query_row", "its row of pixel_values", el)],
    ["query_position", t("window_attention.query_position", "its row in window order", el)],
    ["query_window", t("window_attention.query_window", "its window", el)],
    ["attends", t("window_attention.attends", "patches it may attend to", el)],
    ["windows", t("window_attention.windows", "windows", el)],
    ["lengths", t("window_attention.lengths", "patches per window × windows", el)],
    ["pairs", t("window_attention.pairs", "query-key pairs, this block", el)],
    ["full_pairs", t("window_attention.full_pairs", "query-key pairs, full attention", el)],
  ]);
  el.append(
    h(
      "div",
      { class: "ql-widget ql-window" },
      h("div", { class: "ql-row" }, ...controls.map((c) => c.el)),
      h(
        "div",
        { class: "ql-row" },
        main,
        h(
          "div",
          {},
          mask,
          h(
            "div",
            { class: "ql-caption" },
            t("window_attention.caption", "mask in window order: row = query, column = key (both 0 at top left)", el),
          ),
        ),
      ),
      legend([
        [PALETTE.blue, t("window_attention.legend.attend", "may attend (mask)", el)],
        [MASKED, t("window_attention.legend.masked", "masked", el)],
        [PALETTE.vermillion, t("window_attention.legend.query", "query patch / its row", el)],
        [PALETTE.yellow, t("window_attention.legend.windows", "112 px windows, numbered in window order", el)],
        ["rgba(0,0,0,0.7)", t("window_attention.legend.tokens", "the query window's tokens (2 × 2 units), in window order", el)],
      ]),
      info.el,
    ),
  );

  function draw() {
    controls.forEach((c) => c.sync());
    const width = model.get("width");
    const height = model.get("height");
    const p = model.get("patch_size");
    const m = model.get("merge_size");
    const win = model.get("window_size");
    const isWindow = model.get("window");
    const gridH = height / p;
    const gridW = width / p;
    const qr = Math.min(model.get("query_row"), gridH - 1);
    const qc = Math.min(model.get("query_col"), gridW - 1);
    const grid = [[1, gridH, gridW]];
    const s = windowSummary(width, height, isWindow, qr, qc, win, p, m);
    const groups = attentionGroups(grid, isWindow, win, p, m);
    const { windowIndex: index, cuWindowSeqlens: cu } = windowIndex(grid, win, p, m);
  
    // The photo, resized to width x height, patches the query may not attend to darkened.
    const scale = PHOTO_BOX / Math.max(width, height);
    main.width = Math.max(1, Math.round(width * scale));
    main.height = Math.max(1, Math.round(height * scale));
    const ctx = main.getContext("2d");
    ctx.fillStyle = "#bbbbbb";
    ctx.fillRect(0, 0, main.width, main.height);
    if (photo) ctx.drawImage(photo, 0, 0, main.width, main.height);
    const cell = p * scale;
    const own = groups[s.queryRow];
    ctx.beginPath();
    let row = 0;
    for (let br = 0; br < gridH / m; br++) {
      for (let bc = 0; bc < gridW / m; bc++) {
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < m; j++, row++) {
            if (groups[row] !== own) ctx.rect((bc * m + j) * cell, (br * m + i) * cell, cell, cell);
          }
        }
      }
    }
    ctx.fillStyle = "rgba(0,0,0,0.62)";
    ctx.fill();
    if (cell >= 6) {
      ctx.strokeStyle = "rgba(255,255,255,0.25)";
      ctx.lineWidth = 1;
      for (let c = 1; c < gridW; c++) ctx.strokeRect(c * cell, 0, 0, main.height);
      for (let r = 1; r < gridH; r++) ctx.strokeRect(0, r * cell, main.width, 0);
    }
    // Windows: lines every window_size px, each numbered in window order (dashed in a full block,
    // whose mask is still drawn in window order: the tower reorders once, before block 0).
    const step = win * scale;
    ctx.save();
    ctx.strokeStyle = PALETTE.yellow;
    ctx.lineWidth = isWindow ? 2 : 1;
    if (!isWindow) ctx.setLineDash([4, 4]);
    for (let x = step; x < main.width - 0.5; x += step) ctx.strokeRect(x, 0, 0, main.height);
    for (let y = step; y < main.height - 0.5; y += step) ctx.strokeRect(0, y, main.width, 0);
    ctx.restore();
    const perRow = Math.ceil(width / win);
    const label = Math.max(8, Math.min(12, Math.floor(step / 2.6)));
    if (step >= 16) {
      for (let w = 0; w < s.windows; w++) tag(ctx, String(w), (w % perRow) * step + 1, Math.floor(w / perRow) * step + 1, label + 1, PALETTE.yellow, "#000000");
    }
    // Inside the query's window: each 2 x 2 unit numbered by its position in window order.
    const unitPx = p * m * scale;
    if (unitPx >= 22) {
      const unitsW = gridW / m;
      for (let pos = cu[s.queryWindow] / (m * m); pos < cu[s.queryWindow + 1] / (m * m); pos++) {
        const u = index[pos];
        const x = (u % unitsW) * unitPx;
        const y = Math.floor(u / unitsW) * unitPx;
        outline(ctx, x, y, unitPx, unitPx, "rgba(255,255,255,0.7)", 1);
        tag(ctx, String(pos), x + unitPx - 4 - 6 * String(pos).length, y + unitPx - 15, 10);
      }
    }
    outline(ctx, qc * cell - 1, qr * cell - 1, cell + 2, cell + 2, PALETTE.vermillion, 3);

    // The mask in window order: blue where (query, key) may attend, the query's row in vermillion.
    const n = s.patches;
    const k = MASK / n;
    const mctx = mask.getContext("2d");
    mctx.clearRect(0, 0, MASK, MASK);
    mctx.fillStyle = MASKED;
    mctx.fillRect(0, 0, MASK, MASK);
    const segments = isWindow ? cu : [0, n];
    mctx.fillStyle = PALETTE.blue;
    for (let i = 0; i + 1 < segments.length; i++) {
      const a = segments[i] * k;
      const b = segments[i + 1] * k;
      mctx.fillRect(a, a, Math.max(b - a, 0.75), Math.max(b - a, 0.75));
    }
    const seg = isWindow ? s.queryWindow : 0;
    const y = s.queryPosition * k;
    const thick = Math.max(2, k);
    mctx.fillStyle = "rgba(213,94,0,0.35)";
    mctx.fillRect(0, y + k / 2 - thick / 2, MASK, thick);
    mctx.fillStyle = PALETTE.vermillion;
    mctx.fillRect(segments[seg] * k, y + k / 2 - thick / 2, Math.max((segments[seg + 1] - segments[seg]) * k, 2), thick);

    info.set("size", `${width} × ${height} px`);
    info.set("grid", `${gridW} × ${gridH} patches`);
    info.set("query", `(${qr}, ${qc})`);
    info.set("query_row", `${s.queryRow} of ${n}`);
    info.set("query_position", `${s.queryPosition} of ${n}`);
    info.set("query_window", `${s.queryWindow} of ${s.windows}`);
    info.set("attends", `${formatCount(s.attends)} of ${formatCount(n)}`);
    info.set("windows", `${s.windows}`);
    info.set("lengths", lengthCounts(s.lengths));
    info.set("pairs", `${formatCount(s.pairs)} (${isWindow ? "window" : "full"} block)`);
    const windowPairs = s.lengths.reduce((sum, len) => sum + len * len, 0);
    info.set("full_pairs", `${formatCount(s.fullPairs)} (${(s.fullPairs / windowPairs).toFixed(1)}× a window block's)`);
  }

  main.addEventListener("click", (event) => {
    const width = model.get("width");
    const height = model.get("height");
    const p = model.get("patch_size");
    const [x, y] = eventPixel(main, event, PHOTO_BOX / Math.max(width, height));
    const row = Math.max(0, Math.min(height / p - 1, Math.floor(y / p)));
    const col = Math.max(0, Math.min(width / p - 1, Math.floor(x / p)));
    setAndSave(model, { query_row: row, query_col: col });
  });
  return watch(model, ["width", "height", "window", "query_row", "query_col", "image"], draw);
}

export default { render };
