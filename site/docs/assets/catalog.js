/* Catalog filter: reads catalog.json (made from registry.json), builds one table row per pack, and
 * filters rows by text, category and trust level. Plain DOM, no framework;
 * rows are built once and filtering only toggles `hidden`, so thousands of
 * packs stay fast. All pack text goes through textContent (never innerHTML). */
(function () {
  "use strict";

  function money(n) {
    return "$" + Math.round(n).toLocaleString("en-US");
  }

  function trustOf(entry, official) {
    if (official) return "official";
    return entry.trust_level || "community";
  }

  function packs(index) {
    var out = [];
    [["domains", true], ["community_packs", false]].forEach(function (pair) {
      var map = index[pair[0]] || {};
      Object.keys(map).forEach(function (id) {
        var e = map[id];
        var release = (e.releases || {})[e.latest_version] || {};
        var costs = Object.keys(release.sizes || {}).map(function (s) { return release.sizes[s].monthly_usd; });
        out.push({
          id: id,
          title: e.name || id,
          description: e.description || "",
          version: e.latest_version,
          categories: e.categories || [],
          keywords: e.keywords || [],
          trust: trustOf(e, pair[1]),
          status: e.status || "active",
          low: costs.length ? Math.min.apply(null, costs) : null,
          high: costs.length ? Math.max.apply(null, costs) : null
        });
      });
    });
    out.sort(function (a, b) { return a.title.localeCompare(b.title); });
    return out;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function row(p, base) {
    var tr = el("tr");
    tr.dataset.pack = p.id;
    tr.dataset.trust = p.trust;
    tr.dataset.categories = "|" + p.categories.join("|") + "|";
    var title = el("td");
    var link = el("a", "arw-pack-link", p.title);
    link.href = base + "packs/" + encodeURIComponent(p.id) + "/";
    title.appendChild(link);
    title.appendChild(el("div", "arw-pack-id", p.id));
    tr.appendChild(title);
    tr.appendChild(el("td", "arw-version", p.version));
    var cats = el("td");
    p.categories.forEach(function (c) { cats.appendChild(el("span", "arw-chip", c)); });
    tr.appendChild(cats);
    var trust = el("td");
    trust.appendChild(el("span", "arw-badge arw-trust-" + p.trust, p.trust));
    tr.appendChild(trust);
    var cost = p.low === null ? "n/a" : (p.low === p.high ? money(p.low) : money(p.low) + " – " + money(p.high));
    tr.appendChild(el("td", "arw-cost", cost));
    return tr;
  }

  function option(select, value, label) {
    var o = el("option", null, label);
    o.value = value;
    select.appendChild(o);
  }

  function init(root) {
    var base = root.dataset.base || "../";
    var tbody = root.querySelector("tbody");
    var text = root.querySelector("#arw-filter");
    var category = root.querySelector("#arw-category");
    var trust = root.querySelector("#arw-trust");
    var count = root.querySelector("#arw-count");
    var status = root.querySelector("#arw-status");

    // catalog.json: the rows the generator precomputed from registry.json (packs() below reads a raw index,
    // for a site built without it).
    fetch(base + "catalog.json").then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      var list = Array.isArray(data) ? data : packs(data);
      var rows = [], hay = [], cats = {}, trusts = {};
      var frag = document.createDocumentFragment();
      list.forEach(function (p) {
        var tr = row(p, base);
        rows.push(tr);
        hay.push([p.id, p.title, p.description, p.categories.join(" "), p.keywords.join(" "), p.trust]
          .join(" ").toLowerCase());
        p.categories.forEach(function (c) { cats[c] = (cats[c] || 0) + 1; });
        trusts[p.trust] = (trusts[p.trust] || 0) + 1;
        frag.appendChild(tr);
      });
      Object.keys(cats).sort().forEach(function (c) { option(category, c, c + " (" + cats[c] + ")"); });
      Object.keys(trusts).sort().forEach(function (t) { option(trust, t, t + " (" + trusts[t] + ")"); });
      tbody.textContent = "";
      tbody.appendChild(frag);

      function apply() {
        var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
        var cat = category.value ? "|" + category.value + "|" : "";
        var tr = trust.value;
        var shown = 0;
        for (var i = 0; i < rows.length; i++) {
          var r = rows[i], ok = true;
          if (cat && r.dataset.categories.indexOf(cat) < 0) ok = false;
          if (ok && tr && r.dataset.trust !== tr) ok = false;
          for (var w = 0; ok && w < words.length; w++) if (hay[i].indexOf(words[w]) < 0) ok = false;
          if (r.hidden === ok) r.hidden = !ok;
          if (ok) shown++;
        }
        count.textContent = shown + " of " + rows.length + " packs";
      }
      text.addEventListener("input", apply);
      category.addEventListener("change", apply);
      trust.addEventListener("change", apply);
      apply();
      root.dataset.ready = "true";
      status.hidden = true;
    }).catch(function (err) {
      status.textContent = "Could not load catalog.json (" + err.message + ").";
    });
  }

  var root = document.getElementById("arw-catalog");
  if (root) init(root);
})();
