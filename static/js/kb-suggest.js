// Suggest knowledge base articles while a partner types a ticket title (no dependencies).
// The server renders the fragment (support/_partials/kb_suggestions.html); this only fetches it,
// debounced, and remembers the title suggestions were shown for (recorded if the ticket is filed).
(function () {
  "use strict";
  var title = document.querySelector("input[data-suggest]");
  var box = document.getElementById("kb-suggestions");
  var shownFor = document.querySelector("input[name=suggested_for]");
  if (!title || !box) return;
  var timer = null;
  var latest = 0;

  function fetchSuggestions() {
    var query = title.value.trim();
    var ticket = ++latest;
    if (query.length < 3) { box.innerHTML = ""; return; }
    fetch(title.dataset.suggest + "?q=" + encodeURIComponent(query), { headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (ticket !== latest) return; // a newer request is on its way
        box.innerHTML = html;
        if (shownFor && html.trim()) shownFor.value = query;
      })
      .catch(function () { /* suggestions are a help, never a blocker */ });
  }

  title.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(fetchSuggestions, 250);
  });
})();
