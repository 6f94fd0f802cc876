// Equity, drawdown and daily P&L charts from the JSON the page carries (lightweight-charts, served locally).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var LC = window.LightweightCharts;
  function chart(id) {
    var el = document.getElementById(id);
    var c = LC.createChart(el, { height: el.clientHeight || 220, layout: { attributionLogo: true }, timeScale: { timeVisible: true } });
    charts.push(c);
    return c;
  }
  var charts = [];
  if (data.equity.length) { chart("chart-equity").addSeries(LC.LineSeries, { color: "#2962ff" }).setData(data.equity); }
  if (data.drawdown.length) {
    chart("chart-drawdown").addSeries(LC.AreaSeries, { lineColor: "#d32f2f", topColor: "rgba(211,47,47,0.1)", bottomColor: "rgba(211,47,47,0.4)" }).setData(data.drawdown);
  }
  if (data.daily.length) {
    chart("chart-daily").addSeries(LC.HistogramSeries, {}).setData(data.daily.map(function (d) {
      return { time: d.time, value: d.value, color: d.value >= 0 ? "#26a69a" : "#ef5350" };
    }));
  }
  if (data.candles.bars.length) {
    document.getElementById("candles-title").textContent = data.candles.instrument + ": entries and exits";
    var candles = chart("chart-candles").addSeries(LC.CandlestickSeries, {});
    candles.setData(data.candles.bars);
    LC.createSeriesMarkers(candles, data.candles.markers);
  } else {
    document.getElementById("candles-box").hidden = true;
  }
  charts.forEach(function (c) { c.timeScale().fitContent(); });
  document.body.dataset.chartsReady = "1";
})();
