/* The territory map: boundaries from the page's GeoJSON endpoint, drawn with Leaflet.
   No base tiles unless the deployment configured its own tile server (MAP_TILE_URL). */
(function () {
  "use strict";
  /* Names come from imported files and forms: always text, never HTML (a string given to
     Leaflet's bindTooltip is HTML; an element is used as it is). */
  function text(s, cls) {
    var node = document.createElement("div");
    if (cls) { node.className = cls; }
    node.textContent = s == null ? "" : String(s);
    return node;
  }
  /* Leaflet's attribution is HTML too: the operator's text is shown as text. */
  function escapeText(s) {
    return String(s || "").replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") { return; }
  var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!el.dataset.tiles });
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: escapeText(el.dataset.attribution) }).addTo(map);
  } else {
    el.classList.add("no-tiles");
  }
  var palette = ["#2f7d5b", "#3b6ea5", "#a8652a", "#7a4f9a", "#b3473f", "#2c8a8a", "#8a7a2c", "#5a6b7a"];
  var linkBase = el.dataset.linkBase;
  fetch(el.dataset.geojson, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
    .then(function (data) {
      var i = 0;
      var layer = L.geoJSON(data, {
        style: function (f) {
          if (f.properties.role === "outline") {
            return { color: "#333", weight: 2, fill: false, dashArray: "4 4" };
          }
          var c = palette[i++ % palette.length];
          return { color: c, weight: 1.5, fillColor: c, fillOpacity: 0.25 };
        },
        onEachFeature: function (f, lyr) {
          lyr.feature = f;
          if (f.properties.role === "outline") { return; }
          lyr.bindTooltip(text(f.properties.name), { sticky: true });
          lyr.on("click", function () {
            if (f.properties.code !== el.dataset.current) { window.location.href = linkBase + f.properties.code + "/"; }
          });
          if (lyr.getElement) {
            lyr.on("add", function () {
              var path = lyr.getElement();
              if (path) { path.setAttribute("data-code", f.properties.code); path.setAttribute("aria-label", f.properties.name); }
            });
          }
        }
      }).addTo(map);
      if (layer.getLayers().length) {
        map.fitBounds(layer.getBounds(), { padding: [12, 12] });
      } else {
        map.setView([39.9, 116.4], 11);
        el.appendChild(text("没有可显示的边界", "map-empty"));
      }
      el.dataset.features = String(layer.getLayers().length);
      el.classList.add("ready");
    })
    .catch(function () {
      el.appendChild(text("地图数据加载失败，请刷新重试", "map-empty"));
    });
})();
