namespace Wave.AppHost.Model;

/// <summary>
/// The shape of Aspire's <c>IDistributedApplicationBuilder</c>: resources are added and wired in Program.cs, and
/// <see cref="Build"/> freezes them into an <see cref="ApplicationModel"/>.
/// </summary>
public sealed class DistributedApplicationBuilder
{
    private readonly List<BackingResourceBuilder> _backing = [];
    private readonly List<ProjectResourceBuilder> _projects = [];

    private DistributedApplicationBuilder(string[] args) => Args = args;

    public string[] Args { get; }

    public static DistributedApplicationBuilder Create(string[] args) => new(args);

    public BackingResourceBuilder AddRedis(string name) =>
        AddBacking(new BackingResource(name, BackingKind.Redis, "docker.io/library/redis:7.4", 6379, "/data"));

    public BackingResourceBuilder AddPostgres(string name) =>
        AddBacking(new BackingResource(name, BackingKind.Postgres, "docker.io/library/postgres:17.4", 5432, "/var/lib/postgresql/data"));

#pragma warning disable CA1707, IDE1006 // Aspire's spelling
    public BackingResourceBuilder AddRabbitMQ(string name) =>
        AddBacking(new BackingResource(name, BackingKind.RabbitMq, "docker.io/library/rabbitmq:4.1", 5672, "/var/lib/rabbitmq"));
#pragma warning restore CA1707, IDE1006

    public ProjectResourceBuilder AddProject<TProject>(string name) where TProject : IProjectMetadata
    {
        EnsureUnique(name);
        var project = new ProjectResourceBuilder(name, TProject.AssemblyName, TProject.ProjectPath);
        _projects.Add(project);
        return project;
    }

    public ApplicationModel BuildModel()
    {
        Resource Resolve(string name) =>
            (Resource?)_backing.FirstOrDefault(b => b.Resource.Name == name)?.Resource
            ?? _projects.Single(p => p.Name == name).ToResource(Resolve);
        return new([.. _backing.Select(b => b.Resource)], [.. _projects.Select(p => p.ToResource(Resolve))]);
    }

    public DistributedApplication Build() => new(BuildModel(), Args);

    private BackingResourceBuilder AddBacking(BackingResource resource)
    {
        EnsureUnique(resource.Name);
        var builder = new BackingResourceBuilder(resource);
        _backing.Add(builder);
        return builder;
    }

    private void EnsureUnique(string name)
    {
        if (_backing.Any(b => b.Resource.Name == name) || _projects.Any(p => p.Name == name))
        {
            throw new InvalidOperationException($"a resource named '{name}' already exists");
        }
    }
}

public sealed class BackingResourceBuilder
{
    internal BackingResourceBuilder(BackingResource resource) => Resource = resource;

    public BackingResource Resource { get; private set; }

    /// <summary>
    /// The database the services use. Unlike Aspire's AddDatabase it is not a resource of its own: consumers keep the
    /// connection name of the server (<c>ConnectionStrings__postgres</c>) and the connection string names the database.
    /// </summary>
    public BackingResourceBuilder WithDatabase(string database)
    {
        Resource = Resource with { Database = database };
        return this;
    }

    public BackingResourceBuilder WithImage(string image)
    {
        Resource = Resource with { Image = image };
        return this;
    }
}

public sealed class ProjectResourceBuilder
{
    private readonly List<(string Target, string ConnectionName)> _references = [];

    internal ProjectResourceBuilder(string name, string assemblyName, string projectPath)
    {
        Name = name;
        AssemblyName = assemblyName;
        ProjectPath = projectPath;
    }

    public string Name { get; }
    public string AssemblyName { get; }
    public string ProjectPath { get; }

    public ProjectResourceBuilder WithReference(BackingResourceBuilder backing, string? connectionName = null)
    {
        _references.Add((backing.Resource.Name, connectionName ?? backing.Resource.Name));
        return this;
    }

    public ProjectResourceBuilder WithReference(ProjectResourceBuilder project)
    {
        _references.Add((project.Name, project.Name));
        return this;
    }

    internal ProjectResource ToResource(Func<string, Resource> resolve) =>
        new(Name, AssemblyName, ProjectPath, [.. _references.Select(r => new ResourceReference(resolve(r.Target), r.ConnectionName))]);
}
