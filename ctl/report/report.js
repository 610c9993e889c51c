// Draws the charts of a moe4ctl HTML report from the JSON in #moe4-data, with
// Chart.js 3 (Debian's libjs-chart.js) inlined above it; the heatmap is drawn
// on a plain canvas. Runs once, at the
// end of <body>; the page needs no network.
//
// Charts are drawn without animation and at fixed sizes so that they are
// complete when this script returns; it then checks that every canvas has
// pixels on it and records the result in #moe4-render-status (data-charts,
// data-nonblank, data-error) and in document.title, which the headless
// Chromium test reads.
(function () {
  'use strict';
  var status = document.getElementById('moe4-render-status');
  var charts = [];

  function percent(v) { return (100 * v).toFixed(1) + '%'; }

  // A colour per series that stays distinct for the top 10 and beyond.
  function hue(i, n) { return 'hsl(' + Math.round(360 * i / Math.max(n, 1)) + ', 65%, 45%)'; }

  // Mean accuracy -> colour from pale (worst) to deep blue (best).
  function heat(v, lo, hi) {
    if (v === null || v === undefined) return 'rgba(0,0,0,0.05)';
    var t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    return 'rgba(33, 102, 172, ' + (0.12 + 0.88 * t).toFixed(3) + ')';
  }

  function curves(data) {
    var longest = 0;
    data.curves.forEach(function (c) { longest = Math.max(longest, c.accuracy.length); });
    var labels = [];
    for (var e = 1; e <= longest; e++) labels.push(e);
    return new Chart(document.getElementById('chart-curves'), {
      type: 'line',
      data: {
        labels: labels,
        datasets: data.curves.map(function (c, i) {
          return {
            label: c.label, data: c.accuracy, borderColor: hue(i, data.curves.length),
            backgroundColor: hue(i, data.curves.length), pointRadius: 2, tension: 0.2, borderWidth: 2
          };
        })
      },
      options: {
        animation: false, responsive: false,
        scales: {
          x: { title: { display: true, text: 'epoch' } },
          y: { title: { display: true, text: 'test accuracy' }, ticks: { callback: percent } }
        },
        plugins: {
          legend: { position: 'right', labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ': ' + percent(ctx.parsed.y); } } }
        }
      }
    });
  }

  // The pair heatmap, drawn on a plain canvas (Chart.js 3 has no matrix
  // chart without a plugin): family × family, each cell the mean final
  // accuracy of the ensembles holding both families (the diagonal: all
  // ensembles holding that family), its value written on it. Hovering a cell
  // puts its description in the canvas's tooltip (title attribute).
  function heatmap(data) {
    var h = data.heatmap, n = h.families.length;
    var canvas = document.getElementById('chart-heatmap');
    var ctx = canvas.getContext('2d');
    var values = h.cells.map(function (c) { return c.v; }).filter(function (v) { return v !== null; });
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var index = {};
    h.families.forEach(function (f, i) { index[f] = i; });

    ctx.font = '12px sans-serif';
    var labelWidth = 0;
    h.families.forEach(function (f) { labelWidth = Math.max(labelWidth, ctx.measureText(f).width); });
    var left = Math.ceil(labelWidth) + 12, top = 8;
    var bottom = Math.ceil(labelWidth * Math.SQRT1_2) + 24, right = 8;
    var size = Math.max(4, Math.min((canvas.width - left - right) / Math.max(n, 1),
                                    (canvas.height - top - bottom) / Math.max(n, 1)));

    h.cells.forEach(function (c) {
      var x = left + index[c.x] * size, y = top + index[c.y] * size;
      ctx.fillStyle = heat(c.v, lo, hi);
      ctx.fillRect(x, y, size - 1, size - 1);
      if (c.v === null || size < 28) return;
      ctx.fillStyle = hi > lo && (c.v - lo) / (hi - lo) > 0.55 ? '#fff' : '#222';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText((100 * c.v).toFixed(1) + '%', x + size / 2, y + size / 2);
    });
    ctx.fillStyle = '#222';
    h.families.forEach(function (f, i) {
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(f, left - 6, top + (i + 0.5) * size);
      ctx.save();
      ctx.translate(left + (i + 0.5) * size, top + n * size + 6);
      ctx.rotate(-Math.PI / 4);
      ctx.fillText(f, 0, 0);
      ctx.restore();
    });

    canvas.addEventListener('mousemove', function (event) {
      var box = canvas.getBoundingClientRect();
      var col = Math.floor((event.clientX - box.left - left) / size);
      var row = Math.floor((event.clientY - box.top - top) / size);
      var c = null;
      if (col >= 0 && row >= 0 && col < n && row < n) {
        h.cells.forEach(function (cell) { if (index[cell.x] === col && index[cell.y] === row) c = cell; });
      }
      if (!c) { canvas.title = ''; return; }
      var what = c.x === c.y ? c.x + ' (all its ensembles)' : c.y + ' + ' + c.x;
      canvas.title = what + ': ' + (c.v === null ? 'no ensemble' : percent(c.v) + ' (n=' + c.n + ')');
    });
    return { canvas: canvas, cells: h.cells.length };
  }

  function coverage(data) {
    var cov = data.coverage;
    return new Chart(document.getElementById('chart-coverage'), {
      type: 'bar',
      data: {
        labels: cov.families,
        datasets: [
          {
            type: 'line', label: 'ideal K/N', data: cov.families.map(function () { return cov.ideal; }),
            borderColor: '#333', borderDash: [6, 4], pointRadius: 0, borderWidth: 2
          },
          {
            type: 'line', label: 'anchor threshold 2K/N', data: cov.families.map(function () { return 2 * cov.ideal; }),
            borderColor: '#c0392b', borderDash: [2, 3], pointRadius: 0, borderWidth: 1
          },
          {
            type: 'bar', label: 'share of candidates', data: cov.shares,
            backgroundColor: cov.anchor.map(function (a) { return a ? '#c0392b' : '#4a90c2'; })
          }
        ]
      },
      options: {
        animation: false, responsive: false,
        scales: {
          x: { ticks: { autoSkip: false, maxRotation: 60, minRotation: 45 } },
          y: { beginAtZero: true, title: { display: true, text: 'share of candidates' }, ticks: { callback: percent } }
        },
        plugins: {
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ': ' + percent(ctx.parsed.y); } } }
        }
      }
    });
  }

  // True when the canvas has at least a few painted pixels (sampled).
  function painted(canvas) {
    var ctx = canvas.getContext('2d');
    var pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    var seen = 0;
    for (var i = 3; i < pixels.length; i += 4 * 7) {
      if (pixels[i] !== 0 && ++seen >= 50) return true;
    }
    return false;
  }

  function record(error) {
    var nonblank = 0;
    charts.forEach(function (c) { if (painted(c.canvas)) nonblank++; });
    status.setAttribute('data-charts', String(charts.length));
    status.setAttribute('data-nonblank', String(nonblank));
    charts.forEach(function (c) { if (c.cells !== undefined) status.setAttribute('data-heatmap-cells', String(c.cells)); });
    if (error) status.setAttribute('data-error', String(error));
    status.textContent = error ? 'chart error: ' + error : 'rendered ' + nonblank + ' of ' + charts.length + ' charts';
    if (!error && nonblank === charts.length) document.title = document.title.replace(/( \(rendered\))?$/, ' (rendered)');
  }

  try {
    if (typeof Chart === 'undefined') throw new Error('Chart.js is not inlined (moe4ctl built without it)');
    var data = JSON.parse(document.getElementById('moe4-data').textContent);
    charts.push(curves(data));
    charts.push(heatmap(data));
    charts.push(coverage(data));
    record(null);
  } catch (e) {
    record(e && e.message ? e.message : e);
  }
})();
