using Wave.Core.Persistence;

namespace Wave.ServiceDefaults.Postgres;

/// <summary>Migration scripts embedded in this assembly under <c>&lt;prefix&gt;/&lt;version&gt;.sql</c> (see the project file).</summary>
internal static class SqlMigrationResources
{
    public static IReadOnlyList<SqlMigration> Load(string prefix)
    {
        var assembly = typeof(SqlMigrationResources).Assembly;
        var migrations = new List<SqlMigration>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix + "/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)
                ?? throw new InvalidOperationException($"migration resource {name} vanished");
            using var reader = new StreamReader(stream);
            migrations.Add(new SqlMigration(Path.GetFileNameWithoutExtension(name[(prefix.Length + 1)..]), reader.ReadToEnd()));
        }
        if (migrations.Count == 0)
        {
            throw new InvalidOperationException($"no migration scripts embedded under {prefix}/ in {assembly.GetName().Name}");
        }
        return migrations;
    }
}
