// Which frames of a clip are kept, and where they sit in time: chapter 12's index maths.
// Mirrors qwen_lite.video: smart_nframes (qwen-vl-utils' count rule), sample_frame_indices
// (torch.linspace in float32, then round half to even), select_frames' rate after sampling, and the
// processor's second_per_grid_t = temporal_patch_size / that rate; the temporal M-RoPE ids come from
// rope_index.js. Checked in CI against the package (qwen_lite/viz/live/frames.py).
import { temporalIds } from "./rope_index.js";

// qwen-vl-utils' frame count: duration * fps, clamped to [min_frames up to even, min(max_frames,
// total) down to even] and to the clip, then floored to a multiple of frameFactor.
export function smartNframes(totalFrames, videoFps, fps, minFrames = 4, maxFrames = 768, frameFactor = 2) {
  if (!(videoFps > 0) || !(fps > 0) || !Number.isFinite(videoFps) || !Number.isFinite(fps)) {
    throw new Error(`video_fps, fps: expected finite rates > 0, got ${videoFps}, ${fps}`);
  }
  if (totalFrames < frameFactor) throw new Error(`video has ${totalFrames} frame(s); sampling needs at least ${frameFactor}`);
  const lo = Math.ceil(minFrames / frameFactor) * frameFactor;
  const hi = Math.floor(Math.min(maxFrames, totalFrames) / frameFactor) * frameFactor;
  let n = (totalFrames / videoFps) * fps;
  n = Math.min(Math.min(Math.max(n, lo), hi), totalFrames);
  return Math.floor(n / frameFactor) * frameFactor;
}

// Round half to even, as torch.round.
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// torch.linspace(start, start + total - 1, n) in float32 (its CPU kernel: the first half counts up
// from the start, the second half down from the end), rounded: the kept frame indices.
export function sampleFrameIndices(totalFrames, nframes, start = 0) {
  const f = Math.fround;
  const a = f(start);
  const b = f(start + totalFrames - 1);
  if (nframes === 1) return [roundHalfEven(a)];
  const step = f(f(b - a) / (nframes - 1));
  const half = Math.floor(nframes / 2);
  const out = [];
  for (let i = 0; i < nframes; i++) {
    const v = i < half ? f(a + f(step * i)) : f(b - f(step * (nframes - i - 1)));
    out.push(roundHalfEven(v));
  }
  return out;
}

// Everything the fps widget shows for a clip of totalFrames recorded at videoFps, sampled at fps.
export function framePlan(totalFrames, videoFps, fps, tokensPerSecond = 2, temporalPatchSize = 2) {
  const nframes = smartNframes(totalFrames, videoFps, fps, 4, 768, temporalPatchSize);
  const indices = sampleFrameIndices(totalFrames, nframes);
  const rate = (nframes / totalFrames) * videoFps; // frames per second after sampling
  const secondPerGrid = temporalPatchSize / rate;
  const gridT = nframes / temporalPatchSize;
  return {
    nframes,
    indices,
    rate,
    secondPerGrid,
    gridT,
    temporalIds: temporalIds(gridT, secondPerGrid, tokensPerSecond),
    times: indices.map((i) => i / videoFps), // when each kept frame was recorded, in seconds
  };
}
