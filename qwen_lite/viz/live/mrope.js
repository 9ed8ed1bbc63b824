// Chapter 8's live widget: edit a prompt of text runs, images and videos; see the three M-RoPE ids of
// every token, where the text resumes after each block, rope_deltas, and each video's temporal ids on
// a seconds axis. The ids come from rope_index.js (checked in CI against qwen_lite.rope.get_rope_index).
import { PALETTE, fill, h, injectStyle, legend, readouts, setAndSave, t, watch } from "./common.js";
import { ropeLayout } from "./rope_index.js";

const KIND_COLOR = { text: "#d9d9d9", marker: PALETTE.grey, image: PALETTE.sky, video: PALETTE.orange };
const VIDEO_COLORS = [PALETTE.orange, PALETTE.vermillion, PALETTE.purple, PALETTE.green];
const CELL = 26; // px per token column
const ROW = 17; // px per row of the strip (kind, t, h, w)
const LEFT = 34; // px for the row labels
const PER_LINE = 24; // tokens per line of the strip (fits the site's text column)
const LINE_H = 4 * ROW + 10;
const MAX_DRAWN = 520; // longer prompts: ids still computed and shown in the readouts, strip not drawn
const MAX_SEGMENTS = 8;
const CLOCK_ROW = 14; // px per legend row of the video clock
const FONT = "10px system-ui, sans-serif";
// [min, max, step] of each field; sizes in merged tokens (28 x 28 px each), fps in frames per second.
const FIELDS = {
  text: [["n", "tokens", 0, 40, 1]],
  image: [["w", "w", 1, 8, 1], ["h", "h", 1, 8, 1]],
  video: [["t", "grids t", 1, 8, 1], ["w", "w", 1, 6, 1], ["h", "h", 1, 6, 1], ["fps", "fps", 0.1, 30, 0.1]],
};
const NEW_SEGMENT = {
  text: { kind: "text", n: 4 },
  image: { kind: "image", w: 3, h: 2 },
  video: { kind: "video", t: 3, w: 2, h: 2, fps: 2 },
};

// Light to dark blue (one hue, so it reads for every kind of colour vision), t in [0, 1].
function idColor(t) {
  const a = [239, 246, 255];
  const b = [8, 48, 107];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * Math.max(0, Math.min(1, t))));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

// Round ticks covering [lo, hi]: the smallest step of 1, 2 or 5 times a power of ten (at least minStep)
// that needs at most 6 intervals; the first tick at or below lo, the last at or above hi.
function niceAxis(lo, hi, minStep) {
  const top = hi > lo ? hi : lo + Math.max(minStep, 1);
  let power = 10 ** Math.floor(Math.log10((top - lo) / 6));
  for (;;) {
    for (const m of [1, 2, 5]) {
      const step = m * power;
      if (step < minStep) continue;
      const first = Math.floor(lo / step + 1e-9);
      const last = Math.ceil(top / step - 1e-9);
      if (last - first <= 6) {
        return Array.from({ length: last - first + 1 }, (_, k) => Number(((first + k) * step).toPrecision(12)));
      }
    }
    power *= 10;
  }
}

function fmt(x) {
  return String(Number(x.toPrecision(6)));
}

function clampField(value, min, max, step) {
  if (!Number.isFinite(value)) return null;
  const v = step >= 1 ? Math.round(value) : value;
  return Math.max(min, Math.min(max, v));
}

async function render({ model, el }) {
  injectStyle(el.ownerDocument);
  const kindName = (kind) => t("mrope.kind." + kind, kind, el); // "text", "image", "video" in the page's language
  const editor = h("div", { class: "ql-segments", "data-role": "segments" });
  const strip = h("canvas", { "data-role": "ids", title: t("mrope.click", "click a token", el) });
  const grids = h("canvas", { "data-role": "grids" });
  const clock = h("canvas", { "data-role": "clock" });
  const message = h("p", { class: "ql-error", "data-role": "message" });
  const info = readouts([
    ["length", t("mrope.length", "tokens in the prompt", el)],
    ["largest", t("mrope.largest", "largest position id", el)],
    ["rope_deltas", t("mrope.rope_deltas", "rope_deltas (largest + 1 − tokens)", el)],
    ["resume", t("mrope.resume", "text resumes after each block at", el)],
    ["token", t("mrope.token", "selected token", el)],
    ["kind", t("mrope.kind", "its kind", el)],
    ["ids", t("mrope.ids", "its ids (t, h, w)", el)],
    ["second_per_grid", t("mrope.second_per_grid", "second_per_grid_t of each video (s)", el)],
    ["temporal_ids", t("mrope.temporal_ids", "temporal ids of each video's grids", el)],
  ]);
  el.append(
    h(
      "div",
      { class: "ql-widget" },
      editor,
      legend([
        [KIND_COLOR.text, kindName("text")],
        [KIND_COLOR.marker, "<|vision_start|> / <|vision_end|>"],
        [KIND_COLOR.image, t("mrope.legend.image", "image tokens", el)],
        [KIND_COLOR.video, t("mrope.legend.video", "video tokens", el)],
        [idColor(0.1), t("mrope.legend.small", "small id", el)],
        [idColor(0.9), t("mrope.legend.large", "large id", el)],
      ]),
      message,
      h("div", { style: "overflow-x:auto" }, strip),
      h("div", { class: "ql-row" }, grids, h("div", {}, clock, info.el)),
    ),
  );

  const segments = () => model.get("segments").map((s) => Object.assign({}, s));
  const save = (next) => setAndSave(model, { segments: next });

  function drawEditor() {
    const list = segments();
    editor.replaceChildren();
    list.forEach((s, i) => {
      const row = h("div", { class: "ql-row", "data-seg": i, "data-kind": s.kind }, h("b", {}, `${i + 1}. ${kindName(s.kind)}`));
      for (const [key, label, min, max, step] of FIELDS[s.kind]) {
        const input = h("input", { type: "number", min, max, step, value: s[key], "data-field": key });
        input.addEventListener("change", () => {
          const value = clampField(parseFloat(input.value), min, max, step);
          const next = segments();
          if (value !== null) next[i][key] = value;
          input.value = next[i][key];
          save(next);
        });
        row.append(h("label", {}, t("mrope.field." + key, label, el), input));
      }
      const move = (to) => {
        const next = segments();
        const [item] = next.splice(i, 1);
        next.splice(to, 0, item);
        save(next);
      };
      row.append(
        h("button", { "data-action": "up", title: t("mrope.up", "move up", el), disabled: i === 0 ? "" : null, onclick: () => move(i - 1) }, "↑"),
        h("button", { "data-action": "down", title: t("mrope.down", "move down", el), disabled: i === list.length - 1 ? "" : null, onclick: () => move(i + 1) }, "↓"),
        h("button", { "data-action": "remove", title: t("mrope.remove", "remove", el), disabled: list.length === 1 ? "" : null, onclick: () => save(list.filter((_, j) => j !== i)) }, "✕"),
      );
      editor.append(row);
    });
    const adders = h("div", { class: "ql-row" });
    for (const kind of ["text", "image", "video"]) {
      adders.append(
        h("button", {
          "data-action": "add-" + kind,
          disabled: list.length >= MAX_SEGMENTS ? "" : null,
          onclick: () => save([...segments(), Object.assign({}, NEW_SEGMENT[kind])]),
        }, "+ " + kindName(kind)),
      );
    }
    editor.append(adders);
  }

  function draw() {
    const options = { tokensPerSecond: model.get("tokens_per_second"), spatialMergeSize: model.get("merge_size") };
    let layout;
    try {
      layout = ropeLayout(segments(), options);
      message.textContent = "";
    } catch (error) {
      message.textContent = String(error.message || error);
      return;
    }
    const L = layout.length;
    const token = Math.max(0, Math.min(model.get("token"), L - 1));
    const pos = layout.positionIds;
    const visual = layout.segments.filter((s) => s.kind !== "text");
    const videos = visual.filter((s) => s.kind === "video");

    // The strip: one column per token, rows kind / t / h / w, wrapped into lines of PER_LINE tokens.
    const lines = Math.max(1, Math.ceil(L / PER_LINE));
    const drawn = L <= MAX_DRAWN;
    strip.width = LEFT + PER_LINE * CELL + 2;
    strip.height = drawn ? lines * LINE_H : 1;
    Object.assign(strip.dataset, { cell: CELL, row: ROW, left: LEFT, perLine: PER_LINE, lineH: LINE_H, tokens: L });
    if (!drawn) message.textContent = fill(t("mrope.too_many", "{n} tokens: too many to draw; the numbers below are still computed.", el), { n: L });
    const ctx = strip.getContext("2d");
    ctx.clearRect(0, 0, strip.width, strip.height);
    ctx.font = "10px ui-monospace, monospace";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const top = Math.max(1, layout.largest);
    for (let line = 0; drawn && line < lines; line++) {
      const y0 = line * LINE_H;
      ctx.fillStyle = "#666";
      ctx.textAlign = "right";
      [t("mrope.row.kind", "kind", el), "t", "h", "w"].forEach((label, r) => ctx.fillText(label, LEFT - 4, y0 + r * ROW + ROW / 2));
      ctx.textAlign = "center";
      for (let c = 0; c < PER_LINE; c++) {
        const i = line * PER_LINE + c;
        if (i >= L) break;
        const x = LEFT + c * CELL;
        ctx.fillStyle = KIND_COLOR[layout.kinds[i]];
        ctx.fillRect(x, y0, CELL - 1, ROW - 3);
        for (let a = 0; a < 3; a++) {
          const v = pos[a][i];
          const share = v / top;
          ctx.fillStyle = idColor(share);
          ctx.fillRect(x, y0 + (a + 1) * ROW, CELL - 1, ROW - 1);
          ctx.fillStyle = share > 0.55 ? "#fff" : "#000";
          ctx.fillText(String(v), x + CELL / 2, y0 + (a + 1) * ROW + ROW / 2);
        }
        if (i === token) {
          ctx.strokeStyle = PALETTE.vermillion;
          ctx.lineWidth = 2;
          ctx.strokeRect(x, y0 + 1, CELL - 1, 4 * ROW - 2);
        }
      }
    }

    // The grids of the selected block (the block of the selected token, else the first block).
    const block = visual.find((s) => token >= s.first && token <= s.last) || visual[0];
    drawGrids(block, pos, token);
    drawClock(videos, options.tokensPerSecond);

    info.set("length", L);
    info.set("largest", layout.largest);
    info.set("rope_deltas", layout.ropeDeltas);
    info.set("resume", visual.length ? visual.map((s) => s.resume).join(", ") : "(no block)");
    info.set("token", token);
    info.set("kind", layout.kinds[token] || "");
    info.set("ids", L ? `(${pos[0][token]}, ${pos[1][token]}, ${pos[2][token]})` : "");
    info.set("second_per_grid", videos.length ? videos.map((s) => fmt(s.secondPerGrid)).join(", ") : "(no video)");
    info.set("temporal_ids", videos.length ? videos.map((s) => s.temporalIds.join(", ")).join(" | ") : "(no video)");
  }

  function drawGrids(block, pos, token) {
    const ctx = grids.getContext("2d");
    if (!block) {
      grids.width = 260;
      grids.height = 30;
      ctx.clearRect(0, 0, grids.width, grids.height);
      ctx.fillStyle = "#666";
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText(t("mrope.no_block", "no image or video in the prompt", el), 4, 18);
      return;
    }
    const [gt, gh, gw] = block.grid;
    const shown = Math.min(gt, 6);
    const cell = Math.max(12, Math.min(24, Math.floor(220 / Math.max(gw * shown, 1)), Math.floor(90 / gh)));
    const panelW = gw * cell + 10;
    grids.width = Math.max(260, 40 + shown * panelW);
    grids.height = 36 + 3 * (gh * cell + 18);
    ctx.clearRect(0, 0, grids.width, grids.height);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#444";
    ctx.textAlign = "left";
    const first = gt > shown ? fill(t("mrope.first_grids", ", first {n} grids", el), { n: shown }) : "";
    ctx.fillText(`${kindName(block.kind)}: ${gt} × ${gw} × ${gh} (t × w × h)${first}`, 2, 12);
    const lo = Math.min(pos[0][block.padFirst], pos[1][block.padFirst]);
    const hi = Math.max(lo + 1, block.resume - 1);
    for (let k = 0; k < shown; k++) {
      const x0 = 40 + k * panelW;
      ctx.fillStyle = "#444";
      ctx.textAlign = "center";
      ctx.font = "10px system-ui, sans-serif";
      const title =
        block.kind === "video" ? fill(t("mrope.grid", "grid {k}, {s} s", el), { k, s: fmt(block.seconds[k]) }) : kindName("image");
      ctx.fillText(title, x0 + (gw * cell) / 2, 28);
      for (let a = 0; a < 3; a++) {
        const y0 = 34 + a * (gh * cell + 18);
        if (k === 0) {
          ctx.textAlign = "right";
          ctx.fillText(["t", "h", "w"][a], x0 - 6, y0 + (gh * cell) / 2);
          ctx.textAlign = "center";
        }
        for (let r = 0; r < gh; r++) {
          for (let c = 0; c < gw; c++) {
            const i = block.padFirst + (k * gh + r) * gw + c;
            const v = pos[a][i];
            const share = (v - lo) / (hi - lo);
            ctx.fillStyle = idColor(share);
            ctx.fillRect(x0 + c * cell, y0 + r * cell, cell - 1, cell - 1);
            ctx.fillStyle = share > 0.55 ? "#fff" : "#000";
            ctx.fillText(String(v), x0 + c * cell + cell / 2, y0 + r * cell + cell / 2 + 1);
            if (i === token) {
              ctx.strokeStyle = PALETTE.vermillion;
              ctx.lineWidth = 2;
              ctx.strokeRect(x0 + c * cell, y0 + r * cell, cell - 1, cell - 1);
            }
          }
        }
      }
    }
  }

  // Each video's temporal ids (dots) against seconds, with its clock (dashes: tps ids per second from the
  // first grid's id). Both axes run over round ticks that cover every dot and the whole dashed line; the
  // legend sits above the frame, one row per video.
  function drawClock(videos, tps) {
    const ctx = clock.getContext("2d");
    if (!videos.length) {
      clock.width = 340;
      clock.height = 30;
      ctx.clearRect(0, 0, clock.width, clock.height);
      ctx.font = FONT;
      ctx.fillStyle = "#444";
      ctx.fillText(t("mrope.no_video", "no video: add one to see its clock", el), 10, 20);
      return;
    }
    const labels = videos.map((v, n) =>
      fill(t("mrope.clock", "video {n}: {s} s per grid; dashes: {tps} ids per second", el), {
        n: n + 1,
        s: fmt(v.secondPerGrid),
        tps,
      }),
    );
    ctx.font = FONT;
    const widest = Math.max(...labels.map((text) => ctx.measureText(text).width));
    const left = 44; // frame: y tick labels and the axis title on its left
    const top = 8 + CLOCK_ROW * videos.length + 6; // the legend above it
    const frameW = 285;
    const frameH = 140;
    clock.width = Math.max(left + frameW + 15, Math.ceil(left + 24 + widest + 8));
    clock.height = top + frameH + 32;
    ctx.clearRect(0, 0, clock.width, clock.height);
    ctx.font = FONT;

    const xs = niceAxis(0, Math.max(...videos.map((v) => v.seconds[v.seconds.length - 1] + v.secondPerGrid)), 0);
    const xMax = xs[xs.length - 1];
    const lo = Math.min(...videos.map((v) => Math.min(...v.temporalIds)));
    const hi = Math.max(...videos.map((v) => Math.max(v.temporalIds[0] + xMax * tps, ...v.temporalIds)));
    const ys = niceAxis(lo, hi, 1);
    const PAD = 6; // data inset from the frame, so dots on the ends stay inside it
    const X = (sec) => left + PAD + ((sec - xs[0]) / (xMax - xs[0])) * (frameW - 2 * PAD);
    const Y = (id) => top + frameH - PAD - ((id - ys[0]) / (ys[ys.length - 1] - ys[0])) * (frameH - 2 * PAD);

    ctx.lineWidth = 1;
    ctx.strokeStyle = "#eee";
    ctx.beginPath();
    for (const v of xs) {
      ctx.moveTo(Math.round(X(v)) + 0.5, top);
      ctx.lineTo(Math.round(X(v)) + 0.5, top + frameH);
    }
    for (const v of ys) {
      ctx.moveTo(left, Math.round(Y(v)) + 0.5);
      ctx.lineTo(left + frameW, Math.round(Y(v)) + 0.5);
    }
    ctx.stroke();
    ctx.strokeStyle = "#999";
    ctx.strokeRect(left + 0.5, top + 0.5, frameW, frameH);
    ctx.fillStyle = "#444";
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    for (const v of xs) ctx.fillText(fmt(v), X(v), top + frameH + 12);
    ctx.fillText(t("mrope.axis.seconds", "seconds into the video", el), left + frameW / 2, top + frameH + 27);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of ys) ctx.fillText(String(v), left - 4, Y(v));
    ctx.save();
    ctx.translate(10, top + frameH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(t("mrope.axis.temporal", "temporal id", el), 0, 0);
    ctx.restore();

    videos.forEach((v, n) => {
      const color = VIDEO_COLORS[n % VIDEO_COLORS.length];
      const start = v.temporalIds[0];
      ctx.save();
      ctx.beginPath();
      ctx.rect(left + 1, top + 1, frameW - 1, frameH - 1);
      ctx.clip();
      ctx.setLineDash([3, 3]);
      ctx.strokeStyle = color;
      ctx.beginPath();
      ctx.moveTo(X(0), Y(start));
      ctx.lineTo(X(xMax), Y(start + xMax * tps));
      ctx.stroke();
      ctx.restore();
      ctx.fillStyle = color;
      v.seconds.forEach((sec, k) => {
        ctx.beginPath();
        ctx.arc(X(sec), Y(v.temporalIds[k]), 3.5, 0, 2 * Math.PI);
        ctx.fill();
      });
      // The legend row: a dashed stroke with a dot, then the text.
      const y = 8 + CLOCK_ROW * n + CLOCK_ROW / 2;
      ctx.setLineDash([3, 3]);
      ctx.strokeStyle = color;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + 18, y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.beginPath();
      ctx.arc(left + 9, y, 3.5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = "#333";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(labels[n], left + 24, y);
    });
  }

  strip.addEventListener("click", (event) => {
    const box = strip.getBoundingClientRect();
    const x = (event.clientX - box.left) * (strip.width / box.width);
    const y = (event.clientY - box.top) * (strip.height / box.height);
    const col = Math.floor((x - LEFT) / CELL);
    const line = Math.floor(y / LINE_H);
    const i = line * PER_LINE + col;
    if (col < 0 || col >= PER_LINE || i >= Number(strip.dataset.tokens)) return;
    setAndSave(model, { token: i });
  });
  const stopEditor = watch(model, ["segments"], drawEditor);
  const stopDraw = watch(model, ["segments", "token", "tokens_per_second", "merge_size"], draw);
  return () => {
    stopEditor();
    stopDraw();
  };
}

export default { render };
