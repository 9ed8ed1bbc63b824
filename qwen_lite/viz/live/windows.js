// Window attention's index maths (chapters 4 and 6), in the reader's browser.
// Mirrors qwen_lite.vision: get_window_index (window_index, cu_window_seqlens), get_cu_seqlens and
// attention_groups, for lists of (t, h, w) grids in patches (several images, video frames).
// Checked in CI against the package on golden cases (qwen_lite/viz/live/windows.py).
import { pixelValuesRow } from "./patches.js";

function checkGrid(gridThw, mergeSize) {
  if (!Array.isArray(gridThw) || gridThw.length === 0) throw new Error("gridThw: expected a non-empty list of [t, h, w]");
  gridThw.forEach(([t, h, w], i) => {
    if (!(t >= 1 && h >= 1 && w >= 1) || h % mergeSize || w % mergeSize)
      throw new Error(`gridThw[${i}] = [${t}, ${h}, ${w}]: t, h, w >= 1 and h, w multiples of ${mergeSize} expected`);
  });
}

// window_index: the merged units (2 x 2 patches) in window order: per item, per frame, windows
// row-major, units row-major inside each window; edge windows are smaller. cuWindowSeqlens: window
// boundaries in patch rows of the reordered sequence (each unit is mergeSize^2 rows), from 0.
export function windowIndex(gridThw, windowSize = 112, patchSize = 14, mergeSize = 2) {
  checkGrid(gridThw, mergeSize);
  const side = Math.floor(windowSize / patchSize / mergeSize); // 112 px -> 4 units
  if (side < 1) throw new Error(`windowSize: expected at least ${patchSize * mergeSize} px, got ${windowSize}`);
  const index = [];
  const cu = [0];
  let offset = 0;
  for (const [t, h, w] of gridThw) {
    const unitsH = h / mergeSize;
    const unitsW = w / mergeSize;
    for (let f = 0; f < t; f++) {
      for (let top = 0; top < unitsH; top += side) {
        for (let left = 0; left < unitsW; left += side) {
          let count = 0;
          for (let r = top; r < Math.min(unitsH, top + side); r++) {
            for (let c = left; c < Math.min(unitsW, left + side); c++) {
              index.push(offset + (f * unitsH + r) * unitsW + c);
              count++;
            }
          }
          cu.push(cu[cu.length - 1] + count * mergeSize * mergeSize);
        }
      }
    }
    offset += t * unitsH * unitsW;
  }
  return { windowIndex: index, cuWindowSeqlens: cu };
}

// cu_seqlens of the full-attention blocks: one segment per frame slice (h * w patches each).
export function cuSeqlens(gridThw, mergeSize = 2) {
  checkGrid(gridThw, mergeSize);
  const cu = [0];
  for (const [t, h, w] of gridThw) for (let f = 0; f < t; f++) cu.push(cu[cu.length - 1] + h * w);
  return cu;
}

// The attention segment of every patch, in processor row order (attention_groups): two patches
// attend to each other in a block iff their ids are equal.
export function attentionGroups(gridThw, window = true, windowSize = 112, patchSize = 14, mergeSize = 2) {
  const { windowIndex: index, cuWindowSeqlens } = windowIndex(gridThw, windowSize, patchSize, mergeSize);
  const cu = window ? cuWindowSeqlens : cuSeqlens(gridThw, mergeSize);
  const unit = mergeSize * mergeSize;
  const groups = new Array(cu[cu.length - 1]);
  let segment = 0;
  for (let pos = 0; pos < groups.length; pos++) {
    while (pos >= cu[segment + 1]) segment++;
    // position pos of the window order is row `rowsInWindowOrder[pos]` of the processor order
    groups[index[Math.floor(pos / unit)] * unit + (pos % unit)] = segment;
  }
  return groups;
}

// Inverse permutation: position[u] = where unit u sits in window order (argsort(window_index)).
export function windowPositions(index) {
  const position = new Array(index.length);
  index.forEach((u, pos) => (position[u] = pos));
  return position;
}

// The window (0, 1, ...) of every merged unit, in processor order.
export function windowOfUnits(index, cu, mergeSize = 2) {
  const unit = mergeSize * mergeSize;
  const windowOf = new Array(index.length);
  for (let w = 0; w + 1 < cu.length; w++) for (let pos = cu[w] / unit; pos < cu[w + 1] / unit; pos++) windowOf[index[pos]] = w;
  return windowOf;
}

// Everything the window-attention widget shows for one image of width x height px (multiples of
// patchSize * mergeSize), one block kind and one query patch (row, col).
export function windowSummary(width, height, window, queryRow, queryCol, windowSize = 112, patchSize = 14, mergeSize = 2) {
  const gridH = height / patchSize;
  const gridW = width / patchSize;
  const grid = [[1, gridH, gridW]];
  const { windowIndex: index, cuWindowSeqlens: cu } = windowIndex(grid, windowSize, patchSize, mergeSize);
  const segments = window ? cu : cuSeqlens(grid, mergeSize);
  const lengths = cu.slice(1).map((end, i) => end - cu[i]);
  const segmentLengths = segments.slice(1).map((end, i) => end - segments[i]);
  const unit = mergeSize * mergeSize;
  const row = pixelValuesRow(0, queryRow, queryCol, gridH, gridW, mergeSize);
  const positionOfUnit = windowPositions(index);
  const queryPosition = positionOfUnit[Math.floor(row / unit)] * unit + (row % unit);
  let queryWindow = 0;
  while (queryPosition >= cu[queryWindow + 1]) queryWindow++;
  let querySegment = 0;
  while (queryPosition >= segments[querySegment + 1]) querySegment++;
  const patches = gridH * gridW;
  return {
    gridH,
    gridW,
    patches,
    windows: lengths.length,
    lengths,
    queryRow: row,
    queryPosition,
    queryWindow,
    attends: segmentLengths[querySegment],
    pairs: segmentLengths.reduce((sum, n) => sum + n * n, 0),
    fullPairs: patches * patches,
  };
}

// Where merged token `unit` (processor order) of a width x height image comes from and goes to:
// its unit (row, col), its four patches and their rows of pixel_values, its position in window order.
export function tokenPlacement(width, height, unit, windowSize = 112, patchSize = 14, mergeSize = 2) {
  const gridH = height / patchSize;
  const gridW = width / patchSize;
  const unitsW = gridW / mergeSize;
  const grid = [[1, gridH, gridW]];
  const { windowIndex: index, cuWindowSeqlens: cu } = windowIndex(grid, windowSize, patchSize, mergeSize);
  if (!(unit >= 0 && unit < index.length)) throw new Error(`unit: expected 0..${index.length - 1}, got ${unit}`);
  const unitRow = Math.floor(unit / unitsW);
  const unitCol = unit % unitsW;
  const patches = [];
  const rows = [];
  for (let r = 0; r < mergeSize; r++) {
    for (let c = 0; c < mergeSize; c++) {
      const [pr, pc] = [unitRow * mergeSize + r, unitCol * mergeSize + c];
      patches.push([pr, pc]);
      rows.push(pixelValuesRow(0, pr, pc, gridH, gridW, mergeSize));
    }
  }
  const windowPosition = windowPositions(index)[unit];
  return {
    units: index.length,
    unitRow,
    unitCol,
    patches,
    rows,
    windowPosition,
    window: windowOfUnits(index, cu, mergeSize)[unit],
    windows: cu.length - 1,
  };
}
