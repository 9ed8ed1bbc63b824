// Chapter 1's live widget: click a pixel, see its 14 px patch, its 2 x 2 unit and its pixel_values row.
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
  watch,
} from "./common.js";
import { locatePixel } from "./patches.js";

// Sized for the book's content column (about 700 px): photo and close-up side by side, readouts below.
const VIEW = 380; // the longest side of the photo on screen, in CSS pixels
const ZOOM = 7; // screen pixels per image pixel in the unit close-up (a 28 px unit: 196 px)

async function render({ model, el }) {
  injectStyle(el.ownerDocument);
  addStyle(
    el.ownerDocument,
    "ql-pixels-style",
    ".ql-pixels .ql-control { margin-right: 14px; } .ql-pixels .ql-control input[type=range] { width: 130px; } .ql-pixels .ql-control input[type=number] { width: 5em; }",
  );
  const photo = await loadImage(model.get("image"));
  const step = model.get("patch_size") * model.get("merge_size");
  const controls = [
    numberControl(model, "width", t("pixels.width", "width", el), step, 2240, step, "px"),
    numberControl(model, "height", t("pixels.height", "height", el), step, 2240, step, "px"),
  ];
  const main = h("canvas", { "data-role": "photo", title: t("pixels.click", "click a pixel", el), style: "max-width: 64%; height: auto" });
  const zoom = h("canvas", { "data-role": "unit", style: "max-width: 34%; height: auto" });
  const info = readouts([
    ["pixel", t("pixels.pixel", "pixel (x, y)", el)],
    ["patch", t("pixels.patch", "patch (row, col)", el)],
    ["grid", t("pixels.grid", "patch grid (w × h)", el)],
    ["unit", t("pixels.unit", "2 × 2 unit (row, col)", el)],
    ["token", t("pixels.token", "merged unit = LLM token", el)],
    ["row", t("pixels.row", "row of pixel_values", el)],
    ["columns", t("pixels.columns", "its columns (R, G, B × frames)", el)],
  ]);
  el.append(
    h(
      "div",
      { class: "ql-widget ql-pixels" },
      h("div", { class: "ql-row" }, ...controls.map((c) => c.el)),
      h("div", { class: "ql-row", style: "flex-wrap: nowrap" }, main, zoom),
      info.el,
      legend([
        [PALETTE.vermillion, t("pixels.legend.pixel", "pixel", el)],
        [PALETTE.blue, t("pixels.legend.patch", "its patch", el)],
        [PALETTE.orange, t("pixels.legend.unit", "its 2 × 2 unit", el)],
      ]),
    ),
  );

  function draw() {
    controls.forEach((c) => c.sync());
    const width = model.get("width");
    const height = model.get("height");
    const p = model.get("patch_size");
    const m = model.get("merge_size");
    const x = Math.min(model.get("x"), width - 1);
    const y = Math.min(model.get("y"), height - 1);
    const scale = VIEW / Math.max(width, height);
    main.width = Math.round(width * scale);
    main.height = Math.round(height * scale);
    const ctx = main.getContext("2d");
    ctx.fillStyle = "#bbbbbb";
    ctx.fillRect(0, 0, main.width, main.height);
    if (photo) ctx.drawImage(photo, 0, 0, main.width, main.height);
    ctx.strokeStyle = "rgba(255,255,255,0.35)";
    ctx.lineWidth = 1;
    for (let gx = 0; gx <= width; gx += p) ctx.strokeRect(gx * scale, 0, 0, main.height);
    for (let gy = 0; gy <= height; gy += p) ctx.strokeRect(0, gy * scale, main.width, 0);
    const loc = locatePixel(x, y, width, height, p, m, model.get("temporal_patch_size"), 3);
    const unit = p * m;
    outline(ctx, loc.unitCol * unit * scale, loc.unitRow * unit * scale, unit * scale, unit * scale, PALETTE.orange, 3);
    outline(ctx, loc.patchCol * p * scale, loc.patchRow * p * scale, p * scale, p * scale, PALETTE.blue, 2);
    ctx.fillStyle = PALETTE.vermillion;
    ctx.fillRect(x * scale - 2, y * scale - 2, 5, 5);

    // Close-up of the unit: its pixels at ZOOM x, the patch and the pixel outlined.
    zoom.width = zoom.height = unit * ZOOM;
    const z = zoom.getContext("2d");
    z.imageSmoothingEnabled = false;
    z.fillStyle = "#bbbbbb";
    z.fillRect(0, 0, zoom.width, zoom.height);
    if (photo) {
      const sx = photo.naturalWidth / width;
      const sy = photo.naturalHeight / height;
      z.drawImage(photo, loc.unitCol * unit * sx, loc.unitRow * unit * sy, unit * sx, unit * sy, 0, 0, zoom.width, zoom.height);
    }
    const px = (loc.patchCol % m) * p * ZOOM;
    const py = (loc.patchRow % m) * p * ZOOM;
    outline(z, 0, 0, zoom.width, zoom.height, PALETTE.orange, 3);
    outline(z, px, py, p * ZOOM, p * ZOOM, PALETTE.blue, 2);
    outline(z, (x % unit) * ZOOM, (y % unit) * ZOOM, ZOOM, ZOOM, PALETTE.vermillion, 2);

    info.set("pixel", `(${x}, ${y})`);
    info.set("patch", `(${loc.patchRow}, ${loc.patchCol})`);
    info.set("grid", `${loc.gridW} × ${loc.gridH}`);
    info.set("unit", `(${loc.unitRow}, ${loc.unitCol})`);
    info.set("token", `${loc.unit}`);
    info.set("row", `${loc.row} of ${loc.rows}`);
    info.set("columns", loc.columns.join(", "));
  }

  main.addEventListener("click", (event) => {
    const width = model.get("width");
    const height = model.get("height");
    const [x, y] = eventPixel(main, event, VIEW / Math.max(width, height));
    setAndSave(model, { x: Math.max(0, Math.min(width - 1, x)), y: Math.max(0, Math.min(height - 1, y)) });
  });
  return watch(model, ["x", "y", "width", "height", "image"], draw);
}

export default { render };
