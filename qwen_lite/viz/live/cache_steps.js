// What one generation step computes, with and without the KV cache: chapter 11's index maths.
// Step 0 is the prefill (the whole prompt); step s >= 1 feeds the token chosen at step s - 1, at
// position promptLen + s - 1. With the cache only that token's query, key and value are computed and
// the promptLen + s - 1 earlier keys and values are read from the cache; without it the whole
// sequence so far is recomputed and nothing is read. Checked in CI against qwen_lite.generation.generate
// on a small model (qwen_lite/viz/live/cache_steps.py records what each of its forward passes was fed).

export function stepWork(promptLen, step, useCache) {
  const length = promptLen + step; // tokens in the sequence at this step
  const cached = step === 0 || !useCache ? 0 : length - 1;
  return { step, length, queryFirst: cached, queryCount: length - cached, cached };
}

// Every step of a generation of steps + 1 new tokens (prefill + steps decode passes).
export function generationSteps(promptLen, steps, useCache) {
  return Array.from({ length: steps + 1 }, (_, s) => stepWork(promptLen, s, useCache));
}

// Tokens pushed through the decoder over the whole generation.
export function totalComputed(promptLen, steps, useCache) {
  return generationSteps(promptLen, steps, useCache).reduce((sum, s) => sum + s.queryCount, 0);
}
