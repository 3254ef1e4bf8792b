// Script of the counter example page (examples/pages/counter).
(function () {
  "use strict";
  function show(r) {
    document.getElementById("count").textContent = r.count;
    document.getElementById("total").textContent = r.total;
  }
  document.getElementById("inc").addEventListener("click", function () {
    gnr.rpc("increment", {}).then(show).catch(function (e) { console.error(e); });
  });
})();
