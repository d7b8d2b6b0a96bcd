// Live update: the server announces each new store generation over server-sent events; the
// page then fetches its own <main> again and swaps it in. Without JavaScript the tables still
// work (and a <noscript> refresh reloads the page every minute).
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !window.EventSource || !window.fetch) {
    return;
  }
  var busy = false;
  var wanted = 0;

  function shown() {
    return parseInt(main.getAttribute("data-version") || "0", 10);
  }

  function openDetails() {
    return Array.prototype.map.call(main.querySelectorAll("details[open]"), function (d) {
      return d.parentElement ? d.parentElement.id : "";
    });
  }

  function update() {
    if (busy) {
      return;
    }
    busy = true;
    var keepOpen = openDetails();
    fetch(window.location.pathname + window.location.search, {
      headers: { "X-Bzagg-Partial": "1" },
      credentials: "same-origin",
      cache: "no-store",
      redirect: "manual"
    }).then(function (r) {
      if (r.type === "opaqueredirect" || r.status === 401) {
        window.location.reload(); // the session ended: the server sends us to the login page
        return null;
      }
      if (!r.ok) {
        return null;
      }
      var version = r.headers.get("X-Bzagg-Version");
      return r.text().then(function (html) {
        main.innerHTML = html;
        if (version) {
          main.setAttribute("data-version", version);
        }
        keepOpen.forEach(function (id) {
          var d = id && document.querySelector("#" + id + " details");
          if (d) {
            d.open = true;
          }
        });
        document.dispatchEvent(new CustomEvent("bzagg:updated", { detail: version }));
      });
    }).catch(function () {
      // Network trouble: the next announcement tries again.
    }).then(function () {
      busy = false;
      if (wanted > shown()) {
        update();
      }
    });
  }

  var events = new EventSource("/events");
  events.addEventListener("version", function (e) {
    wanted = parseInt(e.data, 10) || 0;
    if (wanted > shown()) {
      update();
    }
  });
})();
