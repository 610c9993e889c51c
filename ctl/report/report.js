// Draws the charts of a moe4ctl HTML report from the JSON in #moe4-data, with
// the Chart.js (and chartjs-chart-matrix) inlined above it. Runs once, at the
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

  function heatmap(data) {
    var h = data.heatmap, n = h.families.length;
    var values = h.cells.map(function (c) { return c.v; }).filter(function (v) { return v !== null; });
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    // Each cell's value written on it, light on dark cells.
    var cellLabels = {
      id: 'moe4CellLabels',
      afterDatasetsDraw: function (chart) {
        var ctx = chart.ctx, cells = chart.data.datasets[0].data;
        ctx.save();
        ctx.font = '12px sans-serif';
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        chart.getDatasetMeta(0).data.forEach(function (element, i) {
          var c = cells[i];
          if (!c || c.v === null) return;
          var p = element.getCenterPoint();
          ctx.fillStyle = hi > lo && (c.v - lo) / (hi - lo) > 0.55 ? '#fff' : '#222';
          ctx.fillText((100 * c.v).toFixed(1) + '%', p.x, p.y);
        });
        ctx.restore();
      }
    };
    return new Chart(document.getElementById('chart-heatmap'), {
      type: 'matrix',
      plugins: [cellLabels],
      data: {
        datasets: [{
          label: 'mean final accuracy',
          data: h.cells,
          backgroundColor: function (ctx) { var c = ctx.dataset.data[ctx.dataIndex]; return c ? heat(c.v, lo, hi) : null; },
          borderColor: 'rgba(255,255,255,0.9)', borderWidth: 1,
          width: function (ctx) { var a = ctx.chart.chartArea; return a ? a.width / n - 1 : 10; },
          height: function (ctx) { var a = ctx.chart.chartArea; return a ? a.height / n - 1 : 10; }
        }]
      },
      options: {
        animation: false, responsive: false,
        scales: {
          x: { type: 'category', labels: h.families, offset: true, grid: { display: false }, ticks: { autoSkip: false, maxRotation: 60, minRotation: 45 } },
          y: { type: 'category', labels: h.families, offset: true, reverse: false, grid: { display: false }, ticks: { autoSkip: false } }
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function () { return ''; },
              label: function (ctx) {
                var c = ctx.dataset.data[ctx.dataIndex];
                var what = c.x === c.y ? c.x + ' (all its ensembles)' : c.y + ' + ' + c.x;
                return what + ': ' + (c.v === null ? 'no ensemble' : percent(c.v) + ' (n=' + c.n + ')');
              }
            }
          }
        }
      }
    });
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
