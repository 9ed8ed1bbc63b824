// The vision tower's 2-D rotary in the reader's browser: the score of a query and a key that differ
// only in position, as a function of their offset (Δrow, Δcol). Chapter 3's index maths.
//
// qwen_lite.vision.VisionRotaryEmbedding gives a head of head_dim features head_dim/4 frequencies
// θ_i = theta^(-2i/(head_dim/2)): slot i (0 <= i < head_dim/4) turns with the row by row·θ_i, slot
// head_dim/4 + i with the column by col·θ_i, and slot j + head_dim/2 is slot j's rotate-half partner.
// The score: one fixed content vector x of unit length, spread evenly over the pairs of the chosen band
// (frequencies lo..hi, on the row, the column or both), is rotated to the query's position (r, c) and
// to the key's (r + Δrow, c + Δcol); the score is their dot product. Each pair contributes
// |pair|² cos(Δ·θ_i), so the score is the mean of cos(Δrow·θ_i) and cos(Δcol·θ_i) over the band,
// whatever (r, c) is. Checked in CI against the package (qwen_lite/viz/live/rotary.py).

// The head_dim/4 frequencies θ_i (radians per patch), as VisionRotaryEmbedding computes them.
export function rotaryFrequencies(headDim, theta) {
  const dim = headDim / 2;
  const out = [];
  for (let i = 0; i < dim; i += 2) out.push(1 / Math.pow(theta, i / dim));
  return out;
}

// The pairs of a band: {axis: "row" | "column", freq: i, slots: [j, j + head_dim/2]}.
export function bandPairs(band, headDim) {
  const quarter = headDim / 4;
  const pairs = [];
  const axes = band.axes === "row" ? ["row"] : band.axes === "column" ? ["column"] : ["row", "column"];
  for (const axis of axes) {
    for (let i = band.lo; i <= band.hi; i++) {
      const j = axis === "row" ? i : quarter + i;
      pairs.push({ axis, freq: i, slots: [j, j + headDim / 2] });
    }
  }
  return pairs;
}

// The content vector: 1/sqrt(2P) on both slots of each of the P pairs of the band, 0 elsewhere.
export function bandContent(band, headDim) {
  const pairs = bandPairs(band, headDim);
  const x = new Array(headDim).fill(0);
  const value = 1 / Math.sqrt(2 * pairs.length);
  for (const p of pairs) for (const s of p.slots) x[s] = value;
  return x;
}

// The score for a key (Δrow, Δcol) away from the query, restricted to the band.
export function rotaryScore(dRow, dCol, band, headDim, theta) {
  const freqs = rotaryFrequencies(headDim, theta);
  const pairs = bandPairs(band, headDim);
  let sum = 0;
  for (const p of pairs) sum += Math.cos((p.axis === "row" ? dRow : dCol) * freqs[p.freq]);
  return sum / pairs.length;
}

// The scores of every offset with |Δrow|, |Δcol| <= radius: rows Δrow = -radius..radius, columns Δcol.
export function scoreMap(radius, band, headDim, theta) {
  const rows = [];
  for (let dr = -radius; dr <= radius; dr++) {
    const row = [];
    for (let dc = -radius; dc <= radius; dc++) row.push(rotaryScore(dr, dc, band, headDim, theta));
    rows.push(row);
  }
  return rows;
}
