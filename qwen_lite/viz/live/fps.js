// Chapter 12's live widget: sample a clip at any rate and see which frames are kept, how they pair into
// temporal patches, the seconds one patch covers and the temporal M-RoPE ids. The maths is frames.js
// (checked in CI against qwen_lite.video.select_frames and qwen_lite.rope.get_rope_index).
import { PALETTE, h, injectStyle, legend, loadImage, readouts, setAndSave, t, watch } from "./common.js";
import { framePlan } from "./frames.js";

const GAP = 4;
const LABEL = 12;

async function render({ model, el }) {
  injectStyle(el.ownerDocument);
  const sprite = await loadImage(model.get("sprite"));
  const strip = h("canvas", { "data-role": "frames" });
  const slider = h("input", { type: "range", min: 0.1, max: 12, step: 0.1, "data-field": "fps-range" });
  const number = h("input", { type: "number", min: 0.01, max: 100, step: "any", "data-field": "fps" });
  const info = readouts([
    ["nframes", t("fps.nframes", "frames kept", el)],
    ["indices", t("fps.indices", "their indices", el)],
    ["grid_t", t("fps.grid_t", "temporal patches (grid_t)", el)],
    ["second_per_grid", t("fps.second_per_grid", "second_per_grid_t (s)", el)],
    ["temporal_ids", t("fps.temporal_ids", "temporal ids of the patches", el)],
  ]);
  el.append(
    h(
      "div",
      { class: "ql-widget" },
      h("div", { class: "ql-row" }, h("label", {}, t("fps.rate", "sampling rate (fps)", el), slider, number)),
      strip,
      legend([
        [PALETTE.orange, t("fps.legend.kept", "kept frame, labelled with its temporal patch t", el)],
        ["#dddddd", t("fps.legend.dropped", "dropped frame (faded)", el)],
      ]),
      info.el,
    ),
  );

  function draw() {
    const total = model.get("frames");
    const videoFps = model.get("video_fps");
    const fps = model.get("fps");
    const side = model.get("thumb");
    const cols = model.get("columns");
    slider.value = Math.min(12, fps);
    number.value = fps;
    const plan = framePlan(total, videoFps, fps);
    const rows = Math.ceil(total / cols);
    const cellW = side + GAP;
    const cellH = side + GAP + LABEL;
    strip.width = cols * cellW;
    strip.height = rows * cellH;
    const ctx = strip.getContext("2d");
    ctx.clearRect(0, 0, strip.width, strip.height);
    const patchOf = new Map(plan.indices.map((frame, k) => [frame, Math.floor(k / 2)]));
    ctx.font = "10px system-ui, sans-serif";
    ctx.textAlign = "center";
    for (let i = 0; i < total; i++) {
      const x = (i % cols) * cellW;
      const y = Math.floor(i / cols) * cellH + LABEL;
      if (sprite) ctx.drawImage(sprite, (i % cols) * side, Math.floor(i / cols) * side, side, side, x, y, side, side);
      if (!patchOf.has(i)) {
        ctx.fillStyle = "rgba(255,255,255,0.72)";
        ctx.fillRect(x, y, side, side);
        continue;
      }
      ctx.strokeStyle = PALETTE.orange;
      ctx.lineWidth = 3;
      ctx.strokeRect(x + 1.5, y + 1.5, side - 3, side - 3);
      ctx.fillStyle = "#222";
      ctx.fillText(`t=${patchOf.get(i)}`, x + side / 2, y - 2);
    }
    info.set("nframes", `${plan.nframes} of ${total}`);
    info.set("indices", plan.indices.join(", "));
    info.set("grid_t", plan.gridT);
    info.set("second_per_grid", String(Number(plan.secondPerGrid.toPrecision(6))));
    info.set("temporal_ids", plan.temporalIds.join(", "));
  }

  slider.addEventListener("input", () => setAndSave(model, { fps: Number(slider.value) }));
  number.addEventListener("change", () => {
    const v = Number(number.value);
    if (Number.isFinite(v) && v > 0) setAndSave(model, { fps: Math.min(100, v) });
    else number.value = model.get("fps");
  });
  return watch(model, ["fps", "frames", "video_fps"], draw);
}

export default { render };
