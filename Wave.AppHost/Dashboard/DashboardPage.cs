namespace Wave.AppHost.Dashboard;

/// <summary>One static page that polls the JSON endpoints; no build step, no external assets.</summary>
public static class DashboardPage
{
    public const string Html = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Wave AppHost</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .6rem; text-align: left; font-size: .9rem; }
tr.selected { background: #eef4ff; }
td.state-Running { color: #1a7f37; } td.state-Failed { color: #cf222e; } td.state-Starting { color: #9a6700; }
pre { background: #111; color: #ddd; padding: .8rem; height: 18rem; overflow: auto; font-size: .8rem; }
</style>
</head>
<body>
<h1>Wave AppHost</h1>
<h2>Resources</h2>
<table id="resources">
<thead><tr><th>Name</th><th>Type</th><th>State</th><th>Health</th><th>Endpoint</th><th>PID</th><th>Restarts</th><th>Source</th></tr></thead>
<tbody></tbody>
</table>
<h2>Log: <span id="log-name"></span></h2>
<pre id="log"></pre>
<h2>Traces</h2>
<table id="span-counts"><thead><tr><th>Service</th><th>Spans</th></tr></thead><tbody></tbody></table>
<table id="spans"><thead><tr><th>Service</th><th>Span</th><th>Trace</th><th>Duration (ms)</th></tr></thead><tbody></tbody></table>
<script>
let selected = null;
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text ?? ''; if (cls) td.className = cls; return td; }
async function refresh() {
  try {
    const resources = await (await fetch('api/resources?logLines=200')).json();
    const body = document.querySelector('#resources tbody');
    body.replaceChildren();
    if (!selected && resources.length) selected = resources[0].name;
    for (const r of resources) {
      const row = body.insertRow();
      row.dataset.name = r.name;
      if (r.name === selected) row.className = 'selected';
      row.onclick = () => { selected = r.name; refresh(); };
      cell(row, r.name); cell(row, r.type); cell(row, r.state, 'state-' + r.state); cell(row, r.health);
      cell(row, r.endpoint); cell(row, r.processId); cell(row, r.restartCount); cell(row, r.source);
    }
    const current = resources.find(r => r.name === selected);
    document.getElementById('log-name').textContent = selected ?? '';
    const log = document.getElementById('log');
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = current ? current.log.join('\n') : '';
    if (atBottom) log.scrollTop = log.scrollHeight;

    const traces = await (await fetch('api/traces')).json();
    const counts = document.querySelector('#span-counts tbody');
    counts.replaceChildren();
    for (const [service, count] of Object.entries(traces.countsByService)) {
      const row = counts.insertRow(); row.dataset.service = service; cell(row, service); cell(row, count);
    }
    const spans = document.querySelector('#spans tbody');
    spans.replaceChildren();
    for (const s of traces.recent.slice(0, 50)) {
      const row = spans.insertRow();
      cell(row, s.service); cell(row, s.name); cell(row, s.traceId.substring(0, 12));
      cell(row, s.duration);
    }
  } catch (e) { /* the AppHost may be stopping */ }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
""";
}
