// Small helpers shared by the live widgets: elements, readouts, the palette, images, styles.
// No framework: plain DOM and canvas, so a reader can read every line.
import { ZH_STRINGS } from "./strings_zh.js";

// Okabe & Ito's colour-blind-safe palette; every colour is mid-luminance, so it reads on light and
// dark page themes alike.
export const PALETTE = {
  blue: "#0072B2",
  orange: "#E69F00",
  sky: "#56B4E9",
  green: "#009E73",
  yellow: "#F0E442",
  vermillion: "#D55E00",
  purple: "#CC79A7",
  grey: "#999999",
};

const STYLE = `
.ql-widget { font: 13px/1.45 system-ui, sans-serif; color: inherit; max-width: 760px; }
.ql-widget .ql-row { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; margin: 6px 0; }
.ql-widget canvas { border: 1px solid ${PALETTE.grey}; image-rendering: pixelated; cursor: crosshair; }
.ql-widget .ql-readouts { display: grid; grid-template-columns: auto auto; gap: 2px 10px; }
.ql-widget .ql-readouts dt { opacity: 0.8; }
.ql-widget .ql-readouts dd { margin: 0; font-family: ui-monospace, monospace; }
.ql-widget label { display: inline-flex; gap: 6px; align-items: center; }
.ql-widget input[type=number] { width: 6em; }
.ql-widget .ql-legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 12px; }
.ql-widget .ql-swatch { width: 12px; height: 12px; display: inline-block; border: 1px solid ${PALETTE.grey}; }
.ql-widget .ql-error { color: ${PALETTE.vermillion}; }
`;

export function injectStyle(doc) {
  if (doc.getElementById("ql-style")) return;
  const style = doc.createElement("style");
  style.id = "ql-style";
  style.textContent = STYLE;
  doc.head.appendChild(style);
}

// h("div", { class: "x", onclick: fn }, child, "text") -> an element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) el.setAttribute(key, value);
  }
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

// A definition list of readouts; set(key, text) updates <dd data-readout="key">, which tests read.
export function readouts(rows) {
  const list = h("dl", { class: "ql-readouts" });
  const cells = {};
  for (const [key, label] of rows) {
    cells[key] = h("dd", { "data-readout": key });
    list.append(h("dt", {}, label), cells[key]);
  }
  return {
    el: list,
    set(key, text) {
      cells[key].textContent = String(text);
    },
  };
}

export function legend(items) {
  return h(
    "div",
    { class: "ql-legend" },
    ...items.map(([color, text]) => h("span", {}, h("i", { class: "ql-swatch", style: `background:${color}` }), text)),
  );
}

// Loads an image from a URL (data: URLs in practice); resolves to the element, or null on failure.
export function loadImage(url) {
  return new Promise((resolve) => {
    if (!url) return resolve(null);
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => resolve(null);
    img.src = url;
  });
}

// The pixel (x, y) of the full-size picture under a mouse event on a canvas drawn at `scale`.
export function eventPixel(canvas, event, scale) {
  const box = canvas.getBoundingClientRect();
  const x = Math.floor(((event.clientX - box.left) * (canvas.width / box.width)) / scale);
  const y = Math.floor(((event.clientY - box.top) * (canvas.height / box.height)) / scale);
  return [x, y];
}

export function outline(ctx, x, y, w, h, color, lineWidth) {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = lineWidth;
  ctx.strokeRect(x + lineWidth / 2, y + lineWidth / 2, w - lineWidth, h - lineWidth);
  ctx.restore();
}

// Calls fn now and whenever one of `keys` changes on the model; returns a function that unsubscribes.
export function watch(model, keys, fn) {
  const handlers = keys.map((key) => {
    const handler = () => fn();
    model.on("change:" + key, handler);
    return [key, handler];
  });
  fn();
  return () => handlers.forEach(([key, handler]) => model.off("change:" + key, handler));
}

export function setAndSave(model, values) {
  for (const [key, value] of Object.entries(values)) model.set(key, value);
  model.save_changes();
}

// ---- added for the window and merge widgets (chapters 4 and 6) ----

// Adds a <style id=...> once per document (widgets with rules of their own).
export function addStyle(doc, id, css) {
  if (doc.getElementById(id)) return;
  const style = doc.createElement("style");
  style.id = id;
  style.textContent = css;
  doc.head.appendChild(style);
}

// An integer model key as a slider plus a number box, both min..max in `step`s. A typed value is
// rounded to the nearest step and clamped. Returns { el, sync }: sync() shows the model's value.
export function numberControl(model, key, label, min, max, step, unit) {
  const attrs = { min, max, step, "data-control": key };
  const slider = h("input", { type: "range", ...attrs, "aria-label": label });
  const box = h("input", { type: "number", ...attrs, "aria-label": label + " (number)" });
  const commit = (value) => {
    const v = Math.max(min, Math.min(max, Math.round(Number(value) / step) * step));
    if (Number.isFinite(v) && v !== model.get(key)) setAndSave(model, { [key]: v });
    sync();
  };
  slider.addEventListener("input", () => commit(slider.value));
  box.addEventListener("change", () => commit(box.value));
  function sync() {
    slider.value = box.value = String(model.get(key));
  }
  sync();
  return { el: h("label", { class: "ql-control" }, label, slider, box, unit || ""), sync };
}

// A model key chosen among options [[value, text], ...] with radio buttons. Returns { el, sync }.
export function choiceControl(model, key, label, options) {
  const name = `ql-${key}-${Math.random().toString(36).slice(2)}`;
  const inputs = options.map(([value]) => {
    const input = h("input", { type: "radio", name, "data-control": key, "data-value": String(value) });
    input.addEventListener("change", () => input.checked && setAndSave(model, { [key]: value }));
    return input;
  });
  function sync() {
    inputs.forEach((input, i) => (input.checked = options[i][0] === model.get(key)));
  }
  sync();
  const el = h("span", { class: "ql-control", role: "radiogroup", "aria-label": label }, label + ":");
  options.forEach(([, text], i) => el.append(h("label", {}, inputs[i], text)));
  return { el, sync };
}

// 12345 -> "12,345" (readouts of counts).
export function formatCount(n) {
  return Number(n).toLocaleString("en-US");
}

// A label on a canvas: by default white text on a dark box, readable over any photo.
export function tag(ctx, text, x, y, size, background = "rgba(0,0,0,0.7)", color = "#ffffff") {
  ctx.save();
  ctx.font = `${size}px system-ui, sans-serif`;
  const w = ctx.measureText(text).width + 4;
  ctx.fillStyle = background;
  ctx.fillRect(x, y, w, size + 3);
  ctx.fillStyle = color;
  ctx.textBaseline = "top";
  ctx.fillText(text, x + 2, y + 1.5);
  ctx.restore();
}

// ---- added for the Chinese edition (issue 17): labels follow the page's language ----

// "zh" on a Chinese page (the nearest lang attribute: Sphinx writes <html lang="zh-CN"> on the Chinese
// edition), otherwise "en" (the English site, Jupyter, Colab).
export function lang(el) {
  const doc = (el && el.ownerDocument) || document;
  const holder = el && el.closest ? el.closest("[lang]") : null;
  const code = (holder && holder.getAttribute("lang")) || doc.documentElement.lang || "en";
  return code.toLowerCase().startsWith("zh") ? "zh" : "en";
}

// A label in the page's language: the Chinese of `key` (strings_zh.js) on a Chinese page, else `fallback`,
// the English written in the widget itself.
export function t(key, fallback, el) {
  return lang(el) === "zh" && Object.prototype.hasOwnProperty.call(ZH_STRINGS, key) ? ZH_STRINGS[key] : fallback;
}

// "video {n}: {s} s" with { n: 1, s: 0.5 } -> "video 1: 0.5 s": a translated label with numbers in it
// (the Chinese may put them in another order). A placeholder with no value stays as it is.
export function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
