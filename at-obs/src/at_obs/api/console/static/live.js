// The live tail: new events from the server-sent stream, newest on top, with the page's filter.
(function () {
  "use strict";
  var tbody = document.querySelector("#tail tbody");
  var state = document.getElementById("stream-state");
  var source = new EventSource("/console/live/stream" + window.location.search);
  function cell(text) { var td = document.createElement("td"); td.textContent = text; return td; }
  function ts(ns) { return new Date(Number(ns) / 1e6).toISOString().replace("T", " ").replace("Z", ""); }
  source.onopen = function () { state.textContent = "live"; };
  source.onerror = function () { state.textContent = "reconnecting"; };
  source.onmessage = function (msg) {
    var e = JSON.parse(msg.data);
    var tr = document.createElement("tr");
    tr.dataset.eventId = e.event_id;
    [ts(e.ts_event), e.event_type, e.account_id, e.strategy_id, e.instrument_id, e.source].forEach(function (t) {
      tr.appendChild(cell(t));
    });
    var td = document.createElement("td"), a = document.createElement("a");
    a.href = "/console/story?correlation_id=" + encodeURIComponent(e.correlation_id);
    a.textContent = "story";
    td.appendChild(a);
    tr.appendChild(td);
    tbody.insertBefore(tr, tbody.firstChild);
    while (tbody.rows.length > 500) { tbody.deleteRow(-1); }
  };
})();
