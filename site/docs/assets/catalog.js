/* Catalog filter: reads catalog.json (made from registry.json) and filters every pack by text,
 * category and trust level in memory. Only the first PAGE matching rows are in the table (a
 * "Show more" button and scrolling near the end add more): laying out thousands of table rows at
 * once takes seconds, filtering them in memory takes milliseconds. A row is built once, when
 * first shown. Plain DOM, no framework; all pack text goes through textContent (never innerHTML). */
(function () {
  "use strict";

  // One formatter for every row: toLocaleString builds a new one per call (slow with thousands of rows).
  var dollars = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

  function money(n) {
    return "$" + dollars.format(Math.round(n));
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

  var PAGE = 200;  // rows added to the table at a time

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
      var built = [], hay = [], cats = {}, trusts = {}, limit = PAGE, matching = [];
      list.forEach(function (p) {
        hay.push([p.id, p.title, p.description, p.categories.join(" "), p.keywords.join(" "), p.trust]
          .join(" ").toLowerCase());
        p.categories.forEach(function (c) { cats[c] = (cats[c] || 0) + 1; });
        trusts[p.trust] = (trusts[p.trust] || 0) + 1;
      });
      Object.keys(cats).sort().forEach(function (c) { option(category, c, c + " (" + cats[c] + ")"); });
      Object.keys(trusts).sort().forEach(function (t) { option(trust, t, t + " (" + trusts[t] + ")"); });
      var more = el("button", "md-button arw-more", "Show more");
      more.type = "button";
      root.appendChild(more);

      function rowAt(i) {
        return built[i] || (built[i] = row(list[i], base));
      }

      function render() {
        var frag = document.createDocumentFragment();
        var upto = Math.min(limit, matching.length);
        for (var k = 0; k < upto; k++) frag.appendChild(rowAt(matching[k]));
        tbody.textContent = "";
        tbody.appendChild(frag);
        more.hidden = matching.length <= limit;
        more.textContent = "Show more (" + (matching.length - upto) + " not shown)";
        count.textContent = matching.length + " of " + list.length + " packs" +
          (upto < matching.length ? " (first " + upto + " shown)" : "");
      }

      function apply() {
        var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
        var cat = category.value, tr = trust.value;
        matching = [];
        for (var i = 0; i < list.length; i++) {
          var p = list[i], ok = true;
          if (cat && p.categories.indexOf(cat) < 0) ok = false;
          if (ok && tr && p.trust !== tr) ok = false;
          for (var w = 0; ok && w < words.length; w++) if (hay[i].indexOf(words[w]) < 0) ok = false;
          if (ok) matching.push(i);
        }
        limit = PAGE;
        render();
      }

      function showMore() {
        if (matching.length > limit) {
          limit += PAGE;
          render();
        }
      }

      text.addEventListener("input", apply);
      category.addEventListener("change", apply);
      trust.addEventListener("change", apply);
      more.addEventListener("click", showMore);
      if ("IntersectionObserver" in window) {
        new IntersectionObserver(function (entries) {
          if (entries.some(function (e) { return e.isIntersecting; })) showMore();
        }, { rootMargin: "600px" }).observe(more);
      }
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
