/* Catalog filter: reads catalog.json (columns made from registry.json by `registry site`: one array
 * per field, one entry per pack, sorted by title) and filters every pack by text, category and trust
 * level in memory. Only the first PAGE matching rows are in the table (a "Show more" button and
 * scrolling near the end add more): laying out thousands of table rows at once takes seconds (and
 * the theme measures the page again after it changes), filtering them in memory takes milliseconds.
 * A row is built once, when first shown. Plain DOM, no framework; all pack text goes through
 * textContent (never innerHTML). The page loads this script right after the table, before the theme's
 * own scripts, so the first rows are in place when the theme first lays the page out. */
(function () {
  "use strict";

  // Whole dollars with thousands separators, by hand: toLocaleString builds a formatter per call, and even
  // one Intl.NumberFormat costs ~50 ms of locale loading before the first row can show.
  function money(n) {
    return "$" + String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  var PAGE = 50;  // rows added to the table at a time: more than a screen, little to lay out

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

    fetch(base + "catalog.json").then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      // data.categories[i] is "|cat1|cat2|"; data.text[i] is the lowercased text the filter matches.
      var n = data.id.length, built = [], cats = {}, trusts = {}, limit = PAGE, matching = [];
      for (var i = 0; i < n; i++) {
        data.categories[i].split("|").forEach(function (c) { if (c) cats[c] = (cats[c] || 0) + 1; });
        trusts[data.trust[i]] = (trusts[data.trust[i]] || 0) + 1;
      }
      Object.keys(cats).sort().forEach(function (c) { option(category, c, c + " (" + cats[c] + ")"); });
      Object.keys(trusts).sort().forEach(function (t) { option(trust, t, t + " (" + trusts[t] + ")"); });
      var more = el("button", "md-button arw-more", "Show more");
      more.type = "button";
      root.appendChild(more);

      function rowAt(i) {
        return built[i] || (built[i] = row({
          id: data.id[i], title: data.title[i], version: data.version[i], trust: data.trust[i],
          categories: data.categories[i].split("|").filter(Boolean), low: data.low[i], high: data.high[i]
        }, base));
      }

      function render() {
        var frag = document.createDocumentFragment();
        var upto = Math.min(limit, matching.length);
        for (var k = 0; k < upto; k++) frag.appendChild(rowAt(matching[k]));
        tbody.textContent = "";
        tbody.appendChild(frag);
        more.hidden = matching.length <= limit;
        more.textContent = "Show more (" + (matching.length - upto) + " not shown)";
        count.textContent = matching.length + " of " + n + " packs" +
          (upto < matching.length ? " (first " + upto + " shown)" : "");
      }

      function apply() {
        var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
        var cat = category.value, tr = trust.value;
        matching = [];
        var inCat = "|" + cat + "|", hay = data.text;
        for (var i = 0; i < n; i++) {
          var ok = !(cat && data.categories[i].indexOf(inCat) < 0) && !(tr && data.trust[i] !== tr);
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
      if (window.performance && performance.mark) performance.mark("arw-catalog-ready");  // for measurements
      status.hidden = true;
    }).catch(function (err) {
      status.textContent = "Could not load catalog.json (" + err.message + ").";
    });
  }

  var root = document.getElementById("arw-catalog");
  if (root) init(root);
})();
