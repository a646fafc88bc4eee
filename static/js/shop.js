// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Catalogue filters: a closed disclosure on phones (results first), open on wide screens.
  var wide = window.matchMedia("(min-width: 641px)");
  function syncFilters() {
    document.querySelectorAll("details[data-open-wide]").forEach(function (details) {
      if (wide.matches) details.open = true;
    });
  }
  syncFilters();
  wide.addEventListener("change", syncFilters);

  // Checkout: hide the address fields while a saved address is chosen.
  var saved = document.querySelectorAll("input[name=saved_address]");
  var fields = document.querySelector("[data-new-address]");
  function syncAddress() {
    var chosen = document.querySelector("input[name=saved_address]:checked");
    fields.hidden = Boolean(chosen && chosen.value !== "new");
  }
  if (saved.length && fields) {
    saved.forEach(function (radio) { radio.addEventListener("change", syncAddress); });
    syncAddress();
  }

  // Checkout: the summary follows the delivery option chosen (the server prices it again).
  document.querySelectorAll("input[name=shipping_method]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      document.querySelectorAll("span[data-shipping]").forEach(function (el) {
        el.textContent = radio.dataset.shipping;
      });
      document.querySelectorAll("span[data-total]").forEach(function (el) {
        el.textContent = radio.dataset.total;
      });
    });
  });
})();
