using System.Data.Common;

namespace Wave.Core.Persistence;

/// <summary>
/// The ADO.NET plumbing every SQL store here shares, for Postgres and SQLite alike: parameterised commands (values
/// always travel as parameters, never in the text), one-statement execution, and the timestamp precision both keep.
/// </summary>
public static class SqlCommands
{
    public static DbCommand Command(DbConnection connection, string sql, IEnumerable<(string Name, object? Value)> parameters) =>
        Command(connection, null, sql, parameters);

    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, IEnumerable<(string Name, object? Value)> parameters)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(parameters);
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            // An untyped null reaches Postgres as "unknown", which the column's type then resolves.
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    public static Task<int> ExecuteAsync(DbConnection connection, string sql, IEnumerable<(string Name, object? Value)> parameters, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, sql, parameters, cancellationToken);

    public static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql,
        IEnumerable<(string Name, object? Value)> parameters, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Both databases keep microseconds; cutting here (Postgres would round) makes them agree, in UTC.</summary>
    public static DateTimeOffset ToMicroseconds(DateTimeOffset value) => new(value.UtcTicks - value.UtcTicks % 10, TimeSpan.Zero);

    public static string? NullableString(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
    }
}
