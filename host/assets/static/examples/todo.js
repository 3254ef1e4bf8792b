// Script of the todo example page (examples/pages/todo): the list comes from the `list`
// RPC and from pushes when anyone adds an item.
(function () {
  "use strict";
  function render(items) {
    var ul = document.getElementById("items");
    ul.replaceChildren.apply(ul, items.map(function (item) {
      var li = document.createElement("li");
      li.textContent = item.text;
      return li;
    }));
  }
  gnr.onPush(function (msg) {
    if (msg && msg.type === "todo.items") render(msg.items);
  });
  gnr.rpc("list", {}).then(function (r) { render(r.items); });
  document.getElementById("add").addEventListener("click", function () {
    var input = document.getElementById("text");
    if (!input.value) return;
    gnr.rpc("add", { text: input.value }).then(function (r) {
      input.value = "";
      render(r.items);
    }).catch(function (e) { console.error(e); });
  });
})();
