// Chapter 6's live widget: pick a merged token on the photo or in the sequence; see its four patches,
// their rows of pixel_values, and the token's position in processor order and in window order.
import {
  PALETTE,
  addStyle,
  eventPixel,
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
import { tokenPlacement, windowIndex, windowOfUnits } from "./windows.js";

const PHOTO_BOX = 340; // the longest side of the photo on screen, in CSS pixels
const STRIP_W = 620; // the sequences' width on screen
const STRIP_AREA = 620 * 110; // about the area of one sequence drawing
const MAX_SIDE = 2240;
// Window colours, cycled: Okabe-Ito, mid-luminance (readable on light and dark pages).
const WINDOW_COLORS = [PALETTE.sky, PALETTE.orange, PALETTE.green, PALETTE.purple, PALETTE.blue, PALETTE.yellow];

const CSS = `
.ql-merge .ql-control { margin-right: 14px; }
.ql-merge .ql-control input[type=range] { width: 130px; }
.ql-merge .ql-control input[type=number] { width: 5em; }
.ql-merge canvas { max-width: 100%; }
.ql-merge .ql-caption { font-size: 12px; opacity: 0.85; margin: 4px 0 2px; }
`;

// Cells of a wrapped sequence: side in CSS px and cells per line, for n tokens.
function stripLayout(n) {
  const cell = Math.max(4, Math.min(18, Math.floor(Math.sqrt(STRIP_AREA / n))));
  const perLine = Math.floor(STRIP_W / cell);
  return { cell, perLine, lines: Math.ceil(n / perLine) };
}

// A sequence of tokens, wrapped: cell i coloured by windowOf(i); the selected cell outlined;
// window ends marked by a dark tick when `ends` (window order).
function drawStrip(canvas, n, windowOf, selected, ends) {
  const { cell, perLine, lines } = stripLayout(n);
  canvas.width = perLine * cell;
  canvas.height = lines * cell;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = WINDOW_COLORS[windowOf(i) % WINDOW_COLORS.length];
    ctx.fillRect((i % perLine) * cell, Math.floor(i / perLine) * cell, cell - (cell > 6 ? 1 : 0), cell - 1);
  }
  if (ends) {
    ctx.fillStyle = "#000000";
    for (const i of ends) ctx.fillRect((i % perLine) * cell - 1, Math.floor(i / perLine) * cell, 2, cell);
  }
  const x = (selected % perLine) * cell;
  const y = Math.floor(selected / perLine) * cell;
  outline(ctx, x - 2, y - 2, cell + 4, cell + 4, "#000000", 2);
  outline(ctx, x - 1, y - 1, cell + 2, cell + 2, PALETTE.vermillion, 2);
}

function stripIndex(canvas, event, n) {
  const { cell, perLine } = stripLayout(n);
  const [x, y] = eventPixel(canvas, event, 1);
  const i = Math.floor(y / cell) * perLine + Math.min(perLine - 1, Math.floor(x / cell));
  return Math.max(0, Math.min(n - 1, i));
}

async function render({ model, el }) {
  injectStyle(el.ownerDocument);
  addStyle(el.ownerDocument, "ql-merge-style", CSS);
  const photo = await loadImage(model.get("image"));
  const step = model.get("patch_size") * model.get("merge_size");
  const controls = [
    numberControl(model, "width", t("merge.width", "width", el), step, MAX_SIDE, step, "px"),
    numberControl(model, "height", t("merge.height", "height", el), step, MAX_SIDE, step, "px"),
  ];
  const main = h("canvas", { "data-role": "photo", title: t("merge.click_unit", "click a 2 × 2 unit: one merged token", el) });
  const before = h("canvas", { "data-role": "processor-order", title: t("merge.click_token", "click a token", el) });
  const after = h("canvas", { "data-role": "window-order", title: t("merge.click_token", "click a token", el) });
  const info = readouts([
    ["size", t("merge.size", "image (w × h)", el)],
    ["token", t("merge.token", "token, processor order", el)],
    ["unit", t("merge.unit", "its 2 × 2 unit (row, col)", el)],
    ["patches", t("merge.patches", "its patches (row, col)", el)],
    ["rows", t("merge.rows", "their rows of pixel_values", el)],
    ["window_position", t("merge.window_position", "token, window order", el)],
    ["window", t("merge.window", "its window", el)],
  ]);
  el.append(
    h(
      "div",
      { class: "ql-widget ql-merge" },
      h("div", { class: "ql-row" }, ...controls.map((c) => c.el)),
      h("div", { class: "ql-row" }, main, info.el),
      h(
        "div",
        { class: "ql-caption" },
        t("merge.caption.processor", "the tokens in processor order (the <|image_pad|> order), colour = attention window:", el),
      ),
      before,
      h(
        "div",
        { class: "ql-caption" },
        t(
          "merge.caption.window",
          "the same tokens in window order (the order inside the tower's blocks), black ticks = window ends:",
          el,
        ),
      ),
      after,
      legend([
        [PALETTE.vermillion, t("merge.legend.token", "the chosen token", el)],
        [PALETTE.blue, t("merge.legend.patches", "its four patches", el)],
        [PALETTE.orange, t("merge.legend.unit", "its 2 × 2 unit", el)],
      ]),
    ),
  );

  function draw() {
    controls.forEach((c) => c.sync());
    const width = model.get("width");
    const height = model.get("height");
    const p = model.get("patch_size");
    const m = model.get("merge_size");
    const win = model.get("window_size");
    const units = (width / p / m) * (height / p / m);
    const token = Math.min(model.get("token"), units - 1);
    const place = tokenPlacement(width, height, token, win, p, m);
    const { windowIndex: index, cuWindowSeqlens: cu } = windowIndex([[1, height / p, width / p]], win, p, m);
    const windowOf = windowOfUnits(index, cu, m);

    const scale = PHOTO_BOX / Math.max(width, height);
    main.width = Math.max(1, Math.round(width * scale));
    main.height = Math.max(1, Math.round(height * scale));
    const ctx = main.getContext("2d");
    ctx.fillStyle = "#bbbbbb";
    ctx.fillRect(0, 0, main.width, main.height);
    if (photo) ctx.drawImage(photo, 0, 0, main.width, main.height);
    const cell = p * scale;
    const unitPx = cell * m;
    if (unitPx >= 5) {
      ctx.strokeStyle = "rgba(255,255,255,0.35)";
      ctx.lineWidth = 1;
      for (let c = 1; c < width / p / m; c++) ctx.strokeRect(c * unitPx, 0, 0, main.height);
      for (let r = 1; r < height / p / m; r++) ctx.strokeRect(0, r * unitPx, main.width, 0);
    }
    // The token's window, dashed; its unit; its four patches, each with its row of pixel_values.
    const side = win * scale;
    const unitsPerWindow = win / p / m;
    ctx.save();
    ctx.setLineDash([5, 4]);
    outline(
      ctx,
      Math.floor(place.unitCol / unitsPerWindow) * side,
      Math.floor(place.unitRow / unitsPerWindow) * side,
      Math.min(side, main.width - Math.floor(place.unitCol / unitsPerWindow) * side),
      Math.min(side, main.height - Math.floor(place.unitRow / unitsPerWindow) * side),
      PALETTE.yellow,
      2,
    );
    ctx.restore();
    place.patches.forEach(([r, c], i) => {
      outline(ctx, c * cell, r * cell, cell, cell, PALETTE.blue, cell >= 10 ? 2 : 1);
      if (cell >= 24) tag(ctx, String(place.rows[i]), c * cell + 2, r * cell + 2, 10);
    });
    outline(ctx, place.unitCol * unitPx - 2, place.unitRow * unitPx - 2, unitPx + 4, unitPx + 4, PALETTE.orange, 2);

    drawStrip(before, units, (u) => windowOf[u], token, null);
    drawStrip(after, units, (pos) => windowOf[index[pos]], place.windowPosition, cu.slice(1, -1).map((c) => c / (m * m)));

    info.set("size", `${width} × ${height} px`);
    info.set("token", `${token} of ${units}`);
    info.set("unit", `(${place.unitRow}, ${place.unitCol})`);
    info.set("patches", place.patches.map(([r, c]) => `(${r}, ${c})`).join(", "));
    info.set("rows", place.rows.join(", "));
    info.set("window_position", `${place.windowPosition} of ${units}`);
    info.set("window", `${place.window} of ${place.windows}`);
  }

  main.addEventListener("click", (event) => {
    const width = model.get("width");
    const height = model.get("height");
    const unit = model.get("patch_size") * model.get("merge_size");
    const [x, y] = eventPixel(main, event, PHOTO_BOX / Math.max(width, height));
    const row = Math.max(0, Math.min(height / unit - 1, Math.floor(y / unit)));
    const col = Math.max(0, Math.min(width / unit - 1, Math.floor(x / unit)));
    setAndSave(model, { token: row * (width / unit) + col });
  });
  const units = () => (model.get("width") * model.get("height")) / (model.get("patch_size") * model.get("merge_size")) ** 2;
  before.addEventListener("click", (event) => setAndSave(model, { token: stripIndex(before, event, units()) }));
  after.addEventListener("click", (event) => {
    const width = model.get("width");
    const height = model.get("height");
    const p = model.get("patch_size");
    const grid = [[1, height / p, width / p]];
    const { windowIndex: index } = windowIndex(grid, model.get("window_size"), p, model.get("merge_size"));
    setAndSave(model, { token: index[stripIndex(after, event, units())] });
  });
  return watch(model, ["width", "height", "token", "image"], draw);
}

export default { render };
