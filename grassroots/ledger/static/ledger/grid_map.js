/* A grid's ledger map: the grid outline and its buildings as points (Leaflet, no tiles unless configured). */
(function () {
  "use strict";
  /* Building names come from imported workbooks: always text, never HTML. */
  function text(s, cls) {
    var node = document.createElement("div");
    if (cls) { node.className = cls; }
    node.textContent = s == null ? "" : String(s);
    return node;
  }
  var el = document.getElementById("ledger-map");
  if (!el || typeof L === "undefined") { return; }
  var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!el.dataset.tiles });
  if (el.dataset.tiles) { L.tileLayer(el.dataset.tiles, { maxZoom: 19 }).addTo(map); } else { el.classList.add("no-tiles"); }
  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }
  Promise.all([get(el.dataset.outline), get(el.dataset.buildings)]).then(function (data) {
    var outline = L.geoJSON(data[0], { style: { color: "#2f7d5b", weight: 2, fillOpacity: 0.08 } }).addTo(map);
    var points = L.geoJSON(data[1], {
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 6, color: "#3b6ea5", fillOpacity: 0.8 }); },
      onEachFeature: function (f, lyr) {
        lyr.bindTooltip(text(f.properties.name));
        lyr.on("click", function () { window.location.href = f.properties.url; });
      }
    }).addTo(map);
    var bounds = outline.getLayers().length ? outline.getBounds() : points.getBounds();
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [12, 12] }); } else { map.setView([39.9, 116.4], 12); }
    el.dataset.buildingCount = String(points.getLayers().length);
    el.classList.add("ready");
  }).catch(function () {
    el.appendChild(text("地图数据加载失败，请刷新重试", "map-empty"));
  });
})();
