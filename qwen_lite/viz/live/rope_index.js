// M-RoPE position ids in the reader's browser: the index maths of chapter 8.
// getRopeIndex mirrors qwen_lite.rope.get_rope_index for one unpadded row (the transformers 4.57 rule
// the package follows): text counts up on all three axes; a visual block (the pad tokens right after a
// <|vision_start|>) lays out its merged grid from the position where the text stopped; a video's
// temporal id of grid k is trunc(float32(k * float32(second_per_grid)) * tokens_per_second); the text
// after a block resumes at the block's largest id + 1; rope_deltas = largest id + 1 - length.
// Checked in CI against the package on golden cases (qwen_lite/viz/live/rope_index.py).

export const ROPE_DEFAULTS = {
  spatialMergeSize: 2,
  temporalPatchSize: 2,
  tokensPerSecond: 2,
  imageTokenId: 151655,
  videoTokenId: 151656,
  visionStartTokenId: 151652,
  visionEndTokenId: 151653,
  textTokenId: 40, // any ordinary token: the ids of text never change its positions
};

function ropeOptions(options) {
  return Object.assign({}, ROPE_DEFAULTS, options || {});
}

// (3, L) positions and rope_deltas of one row of token ids.
// imageGridThw / videoGridThw: arrays of [t, h, w] in 14-px patch units (h, w multiples of the merge
// size), or null; secondPerGridTs: one number of seconds per video, or null (1.0 each, as the package).
export function getRopeIndex(inputIds, imageGridThw, videoGridThw, secondPerGridTs, options) {
  const o = ropeOptions(options);
  const L = inputIds.length;
  if (!imageGridThw && !videoGridThw) {
    // text only: 0, 1, 2, ... on all three axes; the largest is L - 1, so the delta is 0
    const p = Array.from({ length: L }, (_, i) => i);
    return { positionIds: [p, p.slice(), p.slice()], ropeDeltas: L ? 0 : 0 };
  }
  const grids = { image: imageGridThw || [], video: videoGridThw || [] };
  const seconds = secondPerGridTs || grids.video.map(() => 1.0);
  if (seconds.length !== grids.video.length) {
    throw new Error(`secondPerGridTs: expected one value per video (${grids.video.length}), got ${seconds.length}`);
  }
  const used = { image: 0, video: 0 };
  const kindOf = { [o.imageTokenId]: "image", [o.videoTokenId]: "video" };
  const out = [[], [], []];
  let next = 0;
  let cursor = 0;
  const pushText = (count) => {
    for (let i = 0; i < count; i++) for (let a = 0; a < 3; a++) out[a].push(next + i);
    next += count;
  };
  for (let start = 1; start < L; start++) {
    const kind = kindOf[inputIds[start]];
    if (!kind || inputIds[start - 1] !== o.visionStartTokenId || start < cursor) continue;
    const index = used[kind]++;
    if (index >= grids[kind].length) {
      throw new Error(`input_ids has more <|vision_start|> ${kind} blocks than the ${grids[kind].length} rows of ${kind}_grid_thw`);
    }
    const [t, gh, gw] = grids[kind][index];
    const h = gh / o.spatialMergeSize;
    const w = gw / o.spatialMergeSize;
    let found = 0;
    while (start + found < L && inputIds[start + found] === inputIds[start]) found++;
    if (found !== t * h * w) {
      throw new Error(`${kind} ${index}: ${found} <|${kind}_pad|> tokens after <|vision_start|> but its grid gives ${t * h * w} merged tokens`);
    }
    pushText(start - cursor);
    const temporal = temporalIds(t, kind === "video" ? seconds[index] : null, o.tokensPerSecond);
    let largest = -1;
    for (let k = 0; k < t; k++) {
      for (let r = 0; r < h; r++) {
        for (let c = 0; c < w; c++) {
          const ids = [next + temporal[k], next + r, next + c];
          for (let a = 0; a < 3; a++) {
            out[a].push(ids[a]);
            largest = Math.max(largest, ids[a]);
          }
        }
      }
    }
    next = largest + 1; // text resumes after the largest id on any axis
    cursor = start + t * h * w;
  }
  for (const kind of ["image", "video"]) {
    if (used[kind] !== grids[kind].length) {
      throw new Error(`${kind}_grid_thw has ${grids[kind].length} rows but input_ids contain ${used[kind]} <|vision_start|> ${kind} blocks`);
    }
  }
  pushText(L - cursor);
  const largest = L ? Math.max(...out[0], ...out[1], ...out[2]) : -1;
  return { positionIds: out, ropeDeltas: largest + 1 - L };
}

// Temporal ids (from 0) of the t grids of a block: images 0, 1, ...; videos follow the clock, computed
// as the package does: a float32 product k * seconds (seconds rounded to float32), times the ticks per
// second, truncated.
export function temporalIds(t, secondsPerGrid, tokensPerSecond) {
  const ids = [];
  for (let k = 0; k < t; k++) {
    if (secondsPerGrid === null || secondsPerGrid === undefined) ids.push(k);
    else ids.push(Math.trunc(Math.fround(Math.fround(k * Math.fround(secondsPerGrid)) * tokensPerSecond)));
  }
  return ids;
}

// Seconds one temporal grid covers, as the processor computes it: temporal_patch_size / frame rate.
export function secondPerGrid(fps, temporalPatchSize) {
  return temporalPatchSize / fps;
}

// A prompt described as segments -> token ids and grids, as the processor would lay them out.
// Segments: {kind: "text", n} (n text tokens); {kind: "image", w, h} (w x h merged tokens, 28 px each);
// {kind: "video", t, w, h, fps} (t temporal grids of 2 frames, w x h merged tokens each, frames sampled
// at fps). A visual segment writes <|vision_start|>, its pads and <|vision_end|>.
export function buildPrompt(segments, options) {
  const o = ropeOptions(options);
  const m = o.spatialMergeSize;
  const inputIds = [];
  const kinds = [];
  const images = [];
  const videos = [];
  const seconds = [];
  const add = (id, kind, count) => {
    for (let i = 0; i < count; i++) {
      inputIds.push(id);
      kinds.push(kind);
    }
  };
  for (const s of segments) {
    if (s.kind === "text") {
      add(o.textTokenId, "text", s.n);
      continue;
    }
    const video = s.kind === "video";
    const t = video ? s.t : 1;
    add(o.visionStartTokenId, "marker", 1);
    add(video ? o.videoTokenId : o.imageTokenId, s.kind, t * s.h * s.w);
    add(o.visionEndTokenId, "marker", 1);
    (video ? videos : images).push([t, s.h * m, s.w * m]);
    if (video) seconds.push(secondPerGrid(s.fps, o.temporalPatchSize));
  }
  return {
    inputIds,
    kinds,
    imageGridThw: images.length ? images : null,
    videoGridThw: videos.length ? videos : null,
    secondPerGridTs: videos.length ? seconds : null,
  };
}

// Everything the M-RoPE widget shows for a prompt: the ids, rope_deltas, and per segment its token
// range, where its block starts in position, where the text after it resumes, and a video's clock.
export function ropeLayout(segments, options) {
  const o = ropeOptions(options);
  const prompt = buildPrompt(segments, o);
  const { positionIds, ropeDeltas } = getRopeIndex(
    prompt.inputIds,
    prompt.imageGridThw,
    prompt.videoGridThw,
    prompt.secondPerGridTs,
    o,
  );
  const length = prompt.inputIds.length;
  const parts = [];
  let index = 0;
  let video = 0;
  for (const s of segments) {
    if (s.kind === "text") {
      parts.push({ kind: "text", first: index, last: index + s.n - 1 });
      index += s.n;
      continue;
    }
    const t = s.kind === "video" ? s.t : 1;
    const count = t * s.h * s.w;
    const pad = index + 1;
    const part = {
      kind: s.kind,
      first: index,
      last: index + count + 1,
      padFirst: pad,
      padLast: pad + count - 1,
      start: positionIds[1][pad], // the block's offset: the row id of its first token
      resume: positionIds[0][pad + count], // <|vision_end|>, then the text after the block
      grid: [t, s.h, s.w],
      temporalIds: Array.from({ length: t }, (_, k) => positionIds[0][pad + k * s.h * s.w]),
    };
    if (s.kind === "video") {
      part.secondPerGrid = prompt.secondPerGridTs[video++];
      part.seconds = Array.from({ length: t }, (_, k) => k * part.secondPerGrid);
    }
    parts.push(part);
    index += count + 2;
  }
  let largest = -1;
  for (const axis of positionIds) for (const v of axis) largest = Math.max(largest, v);
  return { length, largest, ropeDeltas, positionIds, kinds: prompt.kinds, segments: parts };
}
