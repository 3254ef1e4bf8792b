// gnrhost page client: one script tag gives a page its RPCs and its pushes.
//
//   <script src="/_gnr/client.js"></script>
//   gnr.rpc("increment", {}).then(result => ...)    // Promise of the result
//   gnr.onPush(message => ...)                       // messages the page pushes
//   gnr.onStatus(status => ...)                      // "open", "reconnecting", "reload"
//   gnr.onNotify(note => ...)                        // {payload, broadcast, user}: POST /_gnr/notify
//   gnr.onDatachanges(list => ...)                   // [{path, value, delete, reason}] from the registry
//
// The page id comes from <meta name="gnr-page-id">, which the host puts in every page it
// serves. The client keeps a WebSocket to /_gnr/ws open: pushes arrive there in order,
// numbered, and after a lost connection it reconnects with backoff and resumes from the
// last push it saw; if the host cannot replay what was missed it says so and the page
// reloads (never a silent gap). RPCs go over the WebSocket when it is open and over
// HTTP POST /_gnr/rpc otherwise. Errors reject the promise with an Error whose .code is
// the handler's error code (or "http_<status>").
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="gnr-page-id"]');
  var pageId = meta ? meta.getAttribute("content") : null;
  var pushHandlers = [];
  var statusHandlers = [];
  var notifyHandlers = [];
  var datachangeHandlers = [];
  var lastSeq = 0;
  var epoch = "";
  var sock = null;
  var open = false;
  var nextId = 1;
  var pending = {}; // rpc id -> {resolve, reject}
  var backoff = 250;
  var stopped = false;
  var stats = { connects: 0, resumes: 0 };

  function status(s) {
    statusHandlers.forEach(function (fn) {
      try { fn(s); } catch (e) { console.error("gnr status handler", e); }
    });
  }

  function deliver(push) {
    if (push.seq <= lastSeq) return; // already seen (an RPC answer may carry it too)
    lastSeq = push.seq;
    pushHandlers.forEach(function (fn) {
      try { fn(push.data); } catch (e) { console.error("gnr push handler", e); }
    });
  }

  function reload(reason) {
    stopped = true;
    status("reload");
    console.warn("gnr: reloading:", reason);
    window.location.reload();
  }

  function fail(p, body) {
    var err = new Error((body && body.message) || "rpc failed");
    err.code = body && body.code;
    p.reject(err);
  }

  function connect() {
    if (stopped || !pageId || !window.WebSocket) return;
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var url = proto + "//" + location.host + "/_gnr/ws?page_id=" + encodeURIComponent(pageId);
    if (epoch) url += "&epoch=" + encodeURIComponent(epoch) + "&last_seq=" + lastSeq;
    var ws = new WebSocket(url);
    sock = ws;
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      switch (msg.type) {
        case "hello":
          if (epoch && msg.epoch !== epoch) { reload("new push epoch"); return; }
          epoch = msg.epoch;
          stats.connects++;
          if (msg.resumed) stats.resumes++;
          open = true;
          backoff = 250;
          status("open");
          break;
        case "push":
          deliver(msg);
          break;
        case "result":
        case "error":
          var p = pending[msg.id];
          if (!p) break;
          delete pending[msg.id];
          if (msg.type === "result") p.resolve(msg.result); else fail(p, msg.error);
          break;
        case "reload":
          reload(msg.reason);
          break;
        case "notify":
          // Not numbered and not replayed: a notice sent while the socket was down is lost.
          notifyHandlers.forEach(function (fn) {
            try { fn({ payload: msg.payload, broadcast: !!msg.broadcast, user: msg.user }); } catch (e) { console.error(e); }
          });
          break;
        case "datachanges":
          // The page's pending registry changes, taken on the host's keepalive round.
          datachangeHandlers.forEach(function (fn) {
            try { fn(msg.datachanges || []); } catch (e) { console.error("gnr datachanges handler", e); }
          });
          break;
      }
    };
    ws.onclose = function (ev) {
      if (sock !== ws) return;
      open = false;
      sock = null;
      // RPCs in flight on the lost socket are retried over HTTP by their callers' logic:
      // fail them so nothing waits forever.
      Object.keys(pending).forEach(function (id) {
        fail(pending[id], { code: "disconnected", message: "connection lost" });
        delete pending[id];
      });
      if (ev.code === 4000) { reload(ev.reason || "page gone"); return; }
      if (stopped) return;
      status("reconnecting");
      var wait = backoff + Math.floor(Math.random() * backoff / 2);
      backoff = Math.min(backoff * 2, 10000);
      setTimeout(connect, wait);
    };
  }

  function rpcHTTP(method, params) {
    return fetch("/_gnr/rpc", {
      method: "POST",
      credentials: "same-origin",
      // X-Gnr-Page-Id lets a balancer route by the page's "|pNN" without reading the body.
      headers: { "Content-Type": "application/json", "X-Gnr-Page-Id": pageId },
      body: JSON.stringify({ page_id: pageId, method: method, params: params || {} }),
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok) {
          var err = new Error(body.error || "HTTP " + resp.status);
          err.code = "http_" + resp.status;
          if (resp.status === 404) reload("page gone");
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

  function rpc(method, params) {
    if (!open || !sock) return rpcHTTP(method, params);
    var id = nextId++;
    return new Promise(function (resolve, reject) {
      pending[id] = { resolve: resolve, reject: reject };
      sock.send(JSON.stringify({ type: "rpc", id: id, method: method, params: params || {} }));
    });
  }

  window.addEventListener("pagehide", function (ev) {
    if (ev.persisted || !pageId) return;
    stopped = true;
    if (navigator.sendBeacon) navigator.sendBeacon("/_gnr/close", JSON.stringify({ page_id: pageId }));
  });

  window.gnr = {
    pageId: pageId,
    rpc: rpc,
    onPush: function (fn) { pushHandlers.push(fn); },
    onStatus: function (fn) { statusHandlers.push(fn); },
    onNotify: function (fn) { notifyHandlers.push(fn); },
    onDatachanges: function (fn) { datachangeHandlers.push(fn); },
    get connected() { return open; },
    get lastSeq() { return lastSeq; },
    stats: stats,
  };
  connect();
})();
