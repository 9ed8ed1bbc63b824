// Pixels to patches to rows of pixel_values: the index maths of chapter 1, in the reader's browser.
// Mirrors qwen_lite.processing.patchify: rows ordered (t, block_row, block_col, row_in_block,
// col_in_block) with merge_size x merge_size blocks; columns ordered (channel, frame_in_patch, y, x).
// Checked in CI against the package on golden cases (qwen_lite/viz/live/patches.py).

// The patch (row, col) that holds pixel (x, y) of the resized image.
export function patchOfPixel(x, y, patchSize) {
  return { row: Math.floor(y / patchSize), col: Math.floor(x / patchSize) };
}

// The row of pixel_values that holds patch (row, col) of frame group t, for a grid gridH x gridW.
export function pixelValuesRow(t, row, col, gridH, gridW, mergeSize) {
  const blockRow = Math.floor(row / mergeSize);
  const blockCol = Math.floor(col / mergeSize);
  const blocksPerRow = gridW / mergeSize;
  const inBlock = (row % mergeSize) * mergeSize + (col % mergeSize);
  return t * gridH * gridW + (blockRow * blocksPerRow + blockCol) * mergeSize * mergeSize + inBlock;
}

// The merged unit (one LLM token) a row belongs to: four consecutive rows make one unit.
export function mergedUnitOfRow(row, mergeSize) {
  return Math.floor(row / (mergeSize * mergeSize));
}

// The columns of that row that hold pixel (x, y): one per (channel, frame in the temporal patch).
export function pixelColumns(x, y, patchSize, temporalPatchSize, channels) {
  const cols = [];
  const area = patchSize * patchSize;
  for (let c = 0; c < channels; c++) {
    for (let f = 0; f < temporalPatchSize; f++) {
      cols.push((c * temporalPatchSize + f) * area + (y % patchSize) * patchSize + (x % patchSize));
    }
  }
  return cols;
}

// Everything the pixels widget shows for one click, in one object.
export function locatePixel(x, y, width, height, patchSize, mergeSize, temporalPatchSize, channels) {
  const gridH = height / patchSize;
  const gridW = width / patchSize;
  const patch = patchOfPixel(x, y, patchSize);
  const row = pixelValuesRow(0, patch.row, patch.col, gridH, gridW, mergeSize);
  return {
    gridH,
    gridW,
    patchRow: patch.row,
    patchCol: patch.col,
    unitRow: Math.floor(patch.row / mergeSize),
    unitCol: Math.floor(patch.col / mergeSize),
    row,
    rows: gridH * gridW,
    unit: mergedUnitOfRow(row, mergeSize),
    rowLength: channels * temporalPatchSize * patchSize * patchSize,
    columns: pixelColumns(x, y, patchSize, temporalPatchSize, channels),
  };
}
