using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace Wave.Api.Views;

/// <summary>
/// The frame of Wave's pages: one self-contained HTML document (no external assets), readable on a phone. Every value
/// goes through <see cref="Encode"/>; the only markup is the page's own.
/// </summary>
public sealed class HtmlPage(string title)
{
    private const string Style = """
        :root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --ok: #15803d; --bad: #b91c1c; --wait: #b45309; }
        body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; }
        h1 { font-size: 1.35rem; margin: 0 0 1rem; word-break: break-all; }
        h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
        th { width: 11rem; color: var(--muted); font-weight: 500; }
        td { word-break: break-all; }
        code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
        pre { background: rgba(127,127,127,.1); padding: .75rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
        .status { font-weight: 600; }
        .ok { color: var(--ok); } .bad { color: var(--bad); } .wait { color: var(--wait); }
        .muted { color: var(--muted); }
        @media (max-width: 40rem) { th { width: auto; display: block; border: 0; padding-bottom: 0; } td { display: block; } }
        """;

    private readonly StringBuilder _body = new();

    public static string Encode(string? value) => HtmlEncoder.Default.Encode(value ?? "");

    public static string Time(DateTimeOffset? value) => value is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "–";

    public static string Duration(TimeSpan? value) => value is { } v ? v.TotalSeconds.ToString("0.0 's'", CultureInfo.InvariantCulture) : "–";

    /// <summary>Appends trusted markup: callers encode every value they put in it.</summary>
    public HtmlPage Raw(string html)
    {
        _body.Append(html);
        return this;
    }

    public HtmlPage Heading(string text) => Raw($"<h2>{Encode(text)}</h2>\n");

    /// <summary>A two-column table; a row value is text (encoded here) unless it is marked as markup with <see cref="Markup"/>.</summary>
    public HtmlPage Table(string id, IEnumerable<(string Label, object? Value)> rows)
    {
        _body.Append(CultureInfo.InvariantCulture, $"<table id=\"{Encode(id)}\">\n");
        foreach (var (label, value) in rows)
        {
            var cell = value is Markup markup ? markup.Html : Encode(value?.ToString() ?? "–");
            _body.Append(CultureInfo.InvariantCulture, $"<tr><th>{Encode(label)}</th><td data-field=\"{Encode(label)}\">{cell}</td></tr>\n");
        }
        _body.Append("</table>\n");
        return this;
    }

    /// <summary>A link to a scan's page, for a table row; null (shown as a dash) when nothing was scanned.</summary>
    public static Markup? ScanLink(string? scanId) => scanId is null ? null
        : new Markup($"<a href=\"/view/scans/{Encode(Uri.EscapeDataString(scanId))}\">{Encode(scanId)}</a>");

    public HtmlPage Pre(string id, string? text) => Raw($"<pre id=\"{Encode(id)}\">{Encode(text)}</pre>\n");

    public string Render(string? script = null)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        html.Append(CultureInfo.InvariantCulture, $"<title>{Encode(title)} · Wave</title>\n<style>\n{Style}\n</style>\n</head>\n<body>\n");
        html.Append(CultureInfo.InvariantCulture, $"<h1>{Encode(title)}</h1>\n");
        html.Append(_body);
        if (script is not null)
        {
            html.Append("<script>\n").Append(script).Append("\n</script>\n");
        }
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>HTML made by the page code itself (its values already encoded).</summary>
    public sealed record Markup(string Html);
}
