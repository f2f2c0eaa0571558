/**
 * The HTML report's one inline script: sort by a column header, filter by text, state and site,
 * and keep the view in the URL fragment (`#state=rolled-back&sort=device:desc`), so a view can be
 * shared and a headless browser can open the file in a given view. It reads only the DOM: no
 * receipt text is ever placed inside a script. The page's Content-Security-Policy allows exactly
 * this script by its hash.
 */
export const REPORT_SCRIPT = `(function () {
  'use strict';
  var table = document.getElementById('devices');
  var body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var q = document.getElementById('q'), state = document.getElementById('state'), site = document.getElementById('site');
  var sortKey = '', sortDir = 1;
  function cellValue(tr, i) { var c = tr.cells[i]; return c.getAttribute('data-v') || c.textContent; }
  function sortBy(key, dir) {
    var i = heads.findIndex(function (h) { return h.getAttribute('data-key') === key; });
    if (i < 0) return;
    sortKey = key; sortDir = dir;
    var num = heads[i].getAttribute('data-type') === 'num';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, i), y = cellValue(b, i);
      return (num ? Number(x) - Number(y) : x.localeCompare(y)) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h, j) { h.setAttribute('aria-sort', j === i ? (dir > 0 ? 'ascending' : 'descending') : 'none'); });
  }
  function filter() {
    var text = q.value.toLowerCase(), s = state.value, si = site.value, shown = 0;
    Array.prototype.forEach.call(body.rows, function (tr) {
      var ok = (!s || tr.getAttribute('data-state') === s) && (!si || tr.getAttribute('data-site') === si) && (!text || tr.getAttribute('data-k').indexOf(text) >= 0);
      tr.hidden = !ok;
      if (ok) shown++;
    });
    document.getElementById('shown').textContent = String(shown);
    var h = new URLSearchParams();
    if (text) h.set('q', text);
    if (s) h.set('state', s);
    if (si) h.set('site', si);
    if (sortKey) h.set('sort', sortKey + (sortDir < 0 ? ':desc' : ''));
    try { history.replaceState(null, '', '#' + h.toString()); } catch (e) { /* file: URLs in some browsers */ }
  }
  heads.forEach(function (h) {
    h.addEventListener('click', function () {
      var key = h.getAttribute('data-key');
      sortBy(key, sortKey === key ? -sortDir : 1);
      filter();
    });
  });
  [q, state, site].forEach(function (el) { el.addEventListener('input', filter); });
  var p = new URLSearchParams(location.hash.slice(1));
  q.value = p.get('q') || '';
  state.value = p.get('state') || '';
  site.value = p.get('site') || '';
  var sort = p.get('sort');
  if (sort) sortBy(sort.replace(/:desc$/, ''), /:desc$/.test(sort) ? -1 : 1);
  filter();
  document.body.setAttribute('data-ready', 'yes');
})();`;
