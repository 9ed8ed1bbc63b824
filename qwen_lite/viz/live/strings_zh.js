// Chinese labels of the live widgets (issue 17), looked up by t(key, english) in common.js when the page
// is Chinese (<html lang="zh-CN">, as the book's Chinese edition is). Keys are "<widget>.<what>"; the
// English stays in the widget as the fallback, so a missing key shows English, never a blank.
// Terms follow the book's glossary (book/data/glossary.json): patch 图像块, merged unit 合并单元, token 词元.
// Readout *values* (numbers, "(x, y)") are not translated: the browser tests read them.
export const ZH_STRINGS = {
  "pixels.width": "宽",
  "pixels.height": "高",
  "pixels.click": "点击一个像素",
  "pixels.pixel": "像素 (x, y)",
  "pixels.patch": "图像块（行, 列）",
  "pixels.grid": "图像块网格（宽 × 高）",
  "pixels.unit": "2 × 2 合并单元（行, 列）",
  "pixels.token": "合并单元 = LLM 词元",
  "pixels.row": "pixel_values 的行",
  "pixels.columns": "该行的列（R, G, B × 帧）",
  "pixels.legend.pixel": "像素",
  "pixels.legend.patch": "所在图像块",
  "pixels.legend.unit": "所在 2 × 2 合并单元",
};
