// The ipywidgets HTML manager typesets widget labels with the MathJax 2 API
// (MathJax.Hub.Queue), but this site loads MathJax 3, which has no `Hub`: on a page with both
// math and widgets every label then throws "Cannot read properties of undefined (reading 'Queue')".
// This shim gives whatever object `window.MathJax` holds (the v3 configuration first, then MathJax
// itself once loaded) a `Hub.Queue` that forwards to MathJax 3's typesetPromise.
(function () {
  "use strict";
  var current = window.MathJax;
  function queue(job) {
    var element = Array.isArray(job) ? job[2] : undefined;
    var mathjax = window.MathJax;
    if (mathjax && typeof mathjax.typesetPromise === "function") {
      mathjax.typesetPromise(element ? [element] : undefined).catch(function () {});
    }
  }
  function withHub(value) {
    if (value && typeof value === "object" && !Object.prototype.hasOwnProperty.call(value, "Hub")) {
      Object.defineProperty(value, "Hub", { value: { Queue: queue }, enumerable: false });
    }
    return value;
  }
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () {
      return current;
    },
    set: function (value) {
      current = withHub(value);
    },
  });
  withHub(current);
})();
