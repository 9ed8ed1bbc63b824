// The static site's loader for live widgets (a classic script: it must also run on file:// pages).
// Each widget output in a page is <div class="qwen-live" data-widget="NAME"> holding its state as JSON.
// The loader adds NAME.js (the widget's ES module bundled as a classic script, written next to this
// file by qwen_lite.viz.live.write_static), which calls QwenLive.register(NAME, widget); then each
// placeholder is rendered by widget.render({ model, el }) with an in-page model that has the same
// get / set / on / off / save_changes API as anywidget's, so the module is the same one a kernel runs.
(function () {
  "use strict";
  const here = document.currentScript ? document.currentScript.src : "";
  const registry = {};
  const waiting = {};

  function pageModel(state) {
    const values = Object.assign({}, state);
    const handlers = {};
    return {
      get: (key) => values[key],
      set(key, value) {
        values[key] = value;
        (handlers["change:" + key] || []).slice().forEach((fn) => fn());
      },
      on(event, fn) {
        (handlers[event] = handlers[event] || []).push(fn);
      },
      off(event, fn) {
        if (!event) return;
        handlers[event] = (handlers[event] || []).filter((f) => fn && f !== fn);
      },
      save_changes() {},
      send() {},
    };
  }

  function mount(root, widget) {
    if (root.dataset.mounted) return;
    root.dataset.mounted = "1";
    const state = JSON.parse(root.querySelector("script.qwen-live-state").textContent);
    const placeholder = root.querySelector(".qwen-live-placeholder");
    if (placeholder) placeholder.remove();
    const el = document.createElement("div");
    root.appendChild(el);
    Promise.resolve(widget.render({ model: pageModel(state), el: el })).then(() => {
      root.dataset.ready = "1";
    });
  }

  window.QwenLive = {
    register(name, widget) {
      registry[name] = widget;
      (waiting[name] || []).forEach((root) => mount(root, widget));
      waiting[name] = [];
    },
  };

  function start() {
    document.querySelectorAll("div.qwen-live[data-widget]").forEach((root) => {
      const name = root.dataset.widget;
      if (registry[name]) return mount(root, registry[name]);
      if (!waiting[name]) {
        waiting[name] = [];
        const script = document.createElement("script");
        script.src = new URL(name + ".js", here).href;
        document.head.appendChild(script);
      }
      waiting[name].push(root);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
