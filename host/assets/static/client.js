// gnrhost page client: one script tag gives a page its RPCs and its pushes.
//
//   <script src="/_gnr/client.js"></script>
//   gnr.rpc("increment", {}).then(result => ...)    // Promise of the result
//   gnr.onPush(message => ...)                       // messages the page pushes
//
// The page id comes from <meta name="gnr-page-id">, which the host puts in every page it
// serves. RPCs go over HTTP POST /_gnr/rpc; errors reject the promise with an Error whose
// .code is the handler's error code (or "http_<status>").
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="gnr-page-id"]');
  var pageId = meta ? meta.getAttribute("content") : null;
  var pushHandlers = [];
  var lastSeq = 0;

  function deliver(push) {
    if (push.seq <= lastSeq) return; // already seen
    lastSeq = push.seq;
    pushHandlers.forEach(function (fn) {
      try { fn(push.data); } catch (e) { console.error("gnr push handler", e); }
    });
  }

  function rpc(method, params) {
    return fetch("/_gnr/rpc", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ page_id: pageId, method: method, params: params || {} }),
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok) {
          var err = new Error(body.error || "HTTP " + resp.status);
          err.code = "http_" + resp.status;
          throw err;
        }
        (body.pushes || []).forEach(deliver);
        if (body.error) {
          var gerr = new Error(body.error.message);
          gerr.code = body.error.code;
          throw gerr;
        }
        return body.result;
      });
    });
  }

  window.addEventListener("pagehide", function (ev) {
    if (ev.persisted || !pageId || !navigator.sendBeacon) return;
    navigator.sendBeacon("/_gnr/close", JSON.stringify({ page_id: pageId }));
  });

  window.gnr = {
    pageId: pageId,
    rpc: rpc,
    onPush: function (fn) { pushHandlers.push(fn); },
    _deliver: deliver,
  };
})();
