// Shows and hides a task form's fields as people type, the way form-js does with its
// `conditional.hide` expressions. The server decides (POST .../visibility, the engine's own
// reader of the conditions); this script only applies the answer. Without it every field a
// condition does not hide when the page is drawn stays visible, and the server still decides
// what is stored.
(function () {
  "use strict";
  var form = document.querySelector("form.task-form[data-visibility-url]");
  if (!form) { return; }
  var url = form.getAttribute("data-visibility-url");
  var pending = null;
  var sent = 0;

  function apply(hidden) {
    var hide = {};
    hidden.forEach(function (id) { hide[id] = true; });
    form.querySelectorAll("[data-entry]").forEach(function (entry) {
      entry.hidden = !!hide[entry.getAttribute("data-entry")];
    });
    // A hidden field is neither sent nor checked by the browser, as form-js leaves it out.
    form.querySelectorAll("input, select, textarea").forEach(function (input) {
      if (input.name !== "csrf_token") { input.disabled = !!input.closest("[hidden]"); }
    });
  }

  function ask() {
    var number = ++sent;
    var data = new FormData(form);
    fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (answer && number === sent) { apply(answer.hidden || []); }
      })
      .catch(function () { /* offline or signed out: the server still decides on submit */ });
  }

  function changed() {
    clearTimeout(pending);
    pending = setTimeout(ask, 250);
  }

  form.addEventListener("change", changed);
  form.addEventListener("input", changed);

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
