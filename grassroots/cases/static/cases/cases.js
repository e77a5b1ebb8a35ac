/* Case pages: pick a place by tapping a grid (or by the phone's location), draw a case's
   point on its grid, and keep the entry form's suggestions in step with what is typed.
   Works without base tiles: grid outlines come from /cases/grids.geojson. */
(function () {
  "use strict";

  /* Grid names come from imported files: always text, never HTML (a string given to Leaflet's
     bindTooltip is HTML; an element is used as it is). */
  function text(s) {
    var node = document.createElement("div");
    node.textContent = s == null ? "" : String(s);
    return node;
  }

  function escapeText(s) {
    return String(s || "").replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var palette = ["#2f7d5b", "#3b6ea5", "#a8652a", "#7a4f9a", "#b3473f", "#2c8a8a"];

  function baseMap(el) {
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!el.dataset.tiles, tap: true });
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: escapeText(el.dataset.attribution) }).addTo(map);
    }
    return map;
  }

  function say(el, text, bad) {
    if (!el) { return; }
    el.textContent = text;
    el.classList.toggle("field-error", !!bad);
  }

  function picked() {
    document.body.dispatchEvent(new CustomEvent("picked", { bubbles: true }));
  }

  /* --- the place picker of the report and entry forms --- */
  function initPicker(el) {
    var form = el.closest("form");
    var lon = form.querySelector("input[name=lon]");
    var lat = form.querySelector("input[name=lat]");
    var status = document.getElementById(el.dataset.status);
    var url = el.dataset.grids;
    var map = baseMap(el);
    var marker = null;
    var seq = 0;
    var layer = L.geoJSON(null, {
      style: function (f) {
        if (f.properties.level === "street") { return { color: "#555", weight: 1.5, fillOpacity: 0.05, dashArray: "4 4" }; }
        var c = palette[Math.abs(hash(f.properties.code)) % palette.length];
        return { color: c, weight: 1.5, fillColor: c, fillOpacity: 0.18 };
      },
      onEachFeature: function (f, lyr) {
        lyr.bindTooltip(text(f.properties.name), { sticky: true });
        lyr.on("click", function (e) {
          L.DomEvent.stopPropagation(e);
          if (f.properties.level === "street") { map.fitBounds(lyr.getBounds()); return; }
          place(e.latlng, f.properties.name);
          if (map.getZoom() < 16) { map.setView(e.latlng, 16); }  // close enough to move the point
        });
        lyr.on("add", function () {
          var path = lyr.getElement && lyr.getElement();
          if (path) { path.setAttribute("data-code", f.properties.code); path.setAttribute("aria-label", f.properties.name); }
        });
      }
    }).addTo(map);

    function hash(s) { var h = 0; for (var i = 0; i < s.length; i++) { h = (h * 31 + s.charCodeAt(i)) | 0; } return h; }

    function place(latlng, name) {
      lon.value = latlng.lng.toFixed(6);
      lat.value = latlng.lat.toFixed(6);
      if (marker) { marker.setLatLng(latlng); } else {
        marker = L.circleMarker(latlng, { radius: 9, color: "#b3261e", weight: 3, fillColor: "#fff", fillOpacity: 1 }).addTo(map);
      }
      el.classList.remove("has-error");
      el.dataset.picked = name || "";
      say(status, "已选位置：" + (name || "") + "（" + lon.value + ", " + lat.value + "）");
      picked();
    }

    function load() {
      var b = map.getBounds();
      var mine = ++seq;
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (x) { return x.toFixed(5); }).join(",");
      fetch(url + "?bbox=" + bbox, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (data) {
          if (mine !== seq) { return; }
          layer.clearLayers();
          layer.addData(data);
          el.dataset.features = String(layer.getLayers().length);
          el.classList.add("ready");
          if (data.zoom_in && !lon.value) { say(status, "请放大地图，点击您所在的网格"); }
        })
        .catch(function () { say(status, "网格边界加载失败，请刷新重试", true); });
    }

    map.on("click", function () {
      say(status, "这里不在任何网格内，请点击网格范围内的位置", true);
    });
    map.on("moveend", load);

    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (lon.value && lat.value) {
          var p = L.latLng(parseFloat(lat.value), parseFloat(lon.value));
          marker = L.circleMarker(p, { radius: 9, color: "#b3261e", weight: 3, fillColor: "#fff", fillOpacity: 1 }).addTo(map);
          map.setView(p, 16);
        } else if (data.bounds) {
          map.fitBounds([[data.bounds[1], data.bounds[0]], [data.bounds[3], data.bounds[2]]], { padding: [8, 8] });
        } else {
          map.setView([39.9, 116.4], 11);
          say(status, "平台尚未设置网格边界", true);
        }
      })
      .catch(function () { map.setView([39.9, 116.4], 11); load(); });

    var locate = document.getElementById(el.dataset.locate);
    if (locate) {
      locate.addEventListener("click", function () {
        if (!navigator.geolocation) { say(status, "此浏览器不支持定位，请在地图上点击选择", true); return; }
        say(status, "正在定位…");
        navigator.geolocation.getCurrentPosition(function (pos) {
          var p = L.latLng(pos.coords.latitude, pos.coords.longitude);
          map.setView(p, 17);
          place(p, "当前位置，精度约 " + Math.round(pos.coords.accuracy) + " 米");
        }, function (err) {
          say(status, err.code === 1 ? "未获得定位权限，请在地图上点击选择位置" : "定位失败，请在地图上点击选择位置", true);
        }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
      });
    }
    var clear = document.getElementById(el.dataset.clear);
    if (clear) {
      clear.addEventListener("click", function () {
        lon.value = ""; lat.value = "";
        if (marker) { map.removeLayer(marker); marker = null; }
        say(status, "已清除地图位置");
        picked();
      });
    }
  }

  /* --- a case's point on its grid --- */
  function initCaseMap(el) {
    var data = JSON.parse(document.getElementById("case-map-data").textContent);
    var map = baseMap(el);
    var group = L.featureGroup().addTo(map);
    if (data.outline) {
      L.geoJSON(data.outline, { style: { color: "#3b6ea5", weight: 2, fillOpacity: 0.12 } }).bindTooltip(text(data.name)).addTo(group);
    }
    if (data.point) {
      L.circleMarker([data.point[1], data.point[0]], { radius: 9, color: "#b3261e", weight: 3, fillColor: "#fff", fillOpacity: 1 }).addTo(group);
    }
    if (group.getLayers().length) {
      if (data.point && !data.outline) { map.setView([data.point[1], data.point[0]], 16); } else { map.fitBounds(group.getBounds(), { padding: [16, 16], maxZoom: 17 }); }
    } else {
      map.setView([39.9, 116.4], 11);
    }
    el.classList.add("ready");
  }

  /* --- suggestions: a chip sets the matter; a grid matter makes 就地处置 prominent --- */
  document.addEventListener("click", function (e) {
    var chip = e.target.closest && e.target.closest("[data-pick-matter]");
    if (!chip) { return; }
    e.preventDefault();
    var select = document.getElementById("id_matter_code");
    if (select) {
      select.value = chip.getAttribute("data-pick-matter");
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
  document.addEventListener("change", function (e) {
    if (e.target.name === "lead" || e.target.name === "assists") {
      var touched = document.getElementById("lead_touched");
      if (touched) { touched.value = "1"; }
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    var box = document.getElementById("onspot");
    var flag = document.querySelector("#suggest [data-grid-tier]");
    if (box) {
      var grid = !!(flag && flag.getAttribute("data-grid-tier") === "1");
      box.classList.toggle("prominent", grid);
      var hint = document.getElementById("onspot-hint");
      if (hint) { hint.hidden = !grid; }
    }
  });

  if (typeof L !== "undefined") {
    document.querySelectorAll(".pick-map").forEach(initPicker);
    var cm = document.getElementById("case-map");
    if (cm) { initCaseMap(cm); }
  }
})();
