// Which axis (t, h or w) owns each frequency slot of the decoder's M-RoPE: Qwen2.5-VL's chunked layout or
// Qwen3-VL's interleaved one, for any mrope_section and head_dim. Chapter 17's index maths.
//
// A head of head_dim features rotates head_dim/2 pairs; slot i turns at ω_i = theta^(-2i/head_dim) (slot 0
// the fastest) by the position id of its axis. Chunked (qwen_lite.rope.slot_axes): the first s_t slots read
// t, the next s_h read h, the last s_w read w. Interleaved (slot_axes(..., interleaved=True)): slot i reads
// h if i % 3 == 1 and i < 3 s_h, w if i % 3 == 2 and i < 3 s_w, and t otherwise, so t, h, w take turns
// and every axis spans the whole frequency range. Checked in CI against the package
// (qwen_lite/viz/live/mrope_slots.py).

export const AXIS_NAMES = ["t", "h", "w"];

// "" when [s_t, s_h, s_w] is a valid section for head_dim (three ints >= 0 summing to head_dim / 2),
// else a sentence that says what is wrong.
export function sectionProblem(section, headDim) {
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2) return `head_dim must be an even int >= 2, got ${headDim}`;
  if (!Array.isArray(section) || section.length !== 3 || !section.every((s) => Number.isInteger(s) && s >= 0)) {
    return `mrope_section must be three ints >= 0, got ${JSON.stringify(section)}`;
  }
  const sum = section[0] + section[1] + section[2];
  if (sum !== headDim / 2) return `mrope_section ${section.join(", ")} sums to ${sum}, not head_dim / 2 = ${headDim / 2}`;
  return "";
}

// (head_dim/2) axis of every slot: 0 temporal, 1 height, 2 width. `interleaved` false: chunked.
export function slotAxes(section, interleaved) {
  const n = section[0] + section[1] + section[2];
  const axes = [];
  if (!interleaved) {
    for (let k = 0; k < 3; k++) for (let j = 0; j < section[k]; j++) axes.push(k);
    return axes;
  }
  for (let i = 0; i < n; i++) {
    if (i % 3 === 1 && i < 3 * section[1]) axes.push(1);
    else if (i % 3 === 2 && i < 3 * section[2]) axes.push(2);
    else axes.push(0);
  }
  return axes;
}

// { t: [slots], h: [...], w: [...] }: the slots each axis owns, ascending.
export function slotsByAxis(section, interleaved) {
  const out = { t: [], h: [], w: [] };
  slotAxes(section, interleaved).forEach((a, i) => out[AXIS_NAMES[a]].push(i));
  return out;
}

// The rotation speed of every slot, ω_i = 1 / theta^(2i / head_dim) (radians per position id).
export function slotFrequencies(headDim, theta) {
  const out = [];
  for (let i = 0; i < headDim; i += 2) out.push(1 / Math.pow(theta, i / headDim));
  return out;
}

// The angle of every slot for a token at position ids [t, h, w]: the id of the slot's axis times ω_i.
export function slotAngles(section, headDim, theta, interleaved, position) {
  const freqs = slotFrequencies(headDim, theta);
  return slotAxes(section, interleaved).map((a, i) => position[a] * freqs[i]);
}

// How many slots read a different axis in the two layouts.
export function changedSlots(section) {
  const a = slotAxes(section, false);
  const b = slotAxes(section, true);
  return a.filter((axis, i) => axis !== b[i]).length;
}

// [1, 2, 3, 7, 9, 10] -> "1–3, 7, 9–10": runs of consecutive slots as ranges; "(none)" for an empty list.
export function formatSlots(slots) {
  if (!slots.length) return "(none)";
  const parts = [];
  let start = slots[0];
  let prev = slots[0];
  for (const s of [...slots.slice(1), null]) {
    if (s !== null && s === prev + 1) {
      prev = s;
      continue;
    }
    parts.push(start === prev ? String(start) : `${start}–${prev}`);
    start = prev = s;
  }
  return parts.join(", ");
}
