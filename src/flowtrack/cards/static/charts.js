/* flowtrack cards: draw the page's Vega / Vega-Lite charts with the inlined vega-embed.
   Each chart is <div class="ft-chart"><div class="ft-chart-target"></div>
   <script type="application/json" class="ft-vega-spec">{"spec": ..., "options": ...}</script></div>.
   window.flowtrackDrawCharts(root) draws the charts under root not drawn yet. */
(function () {
  "use strict";

  function fail(target, message) {
    target.textContent = "Chart could not be drawn: " + message;
    target.className += " ft-chart-failed";
  }

  function draw(specNode) {
    var target = specNode.previousElementSibling;
    if (!target || specNode.getAttribute("data-drawn")) {
      return;
    }
    specNode.setAttribute("data-drawn", "1");
    var chart;
    try {
      chart = JSON.parse(specNode.textContent);
    } catch (error) {
      fail(target, "its spec is not valid JSON (" + error + ")");
      return;
    }
    if (typeof window.vegaEmbed !== "function") {
      fail(target, "the chart scripts are not in this page");
      return;
    }
    var options = chart.options || {};
    if (options.actions === undefined || options.actions === true) {
      // the menu, but not "Open in Vega Editor": a card works offline
      options.actions = { export: true, source: true, compiled: true, editor: false };
    }
    window.vegaEmbed(target, chart.spec || {}, options).catch(function (error) {
      fail(target, String(error && error.message ? error.message : error));
    });
  }

  function drawCharts(root) {
    var nodes = (root || document).querySelectorAll("script.ft-vega-spec");
    for (var i = 0; i < nodes.length; i++) {
      draw(nodes[i]);
    }
  }

  window.flowtrackDrawCharts = drawCharts;
  drawCharts(document);
})();
