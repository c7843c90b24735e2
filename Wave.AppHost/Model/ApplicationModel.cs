using System.Collections.Immutable;

namespace Wave.AppHost.Model;

/// <summary>A named thing in the application: a backing service or one of Wave's own projects.</summary>
public abstract record Resource(string Name);

public enum BackingKind
{
    Redis,
    Postgres,
    RabbitMq,
}

/// <summary>
/// A stateful server the services depend on. <paramref name="Image"/> and <paramref name="TargetPort"/> describe its
/// container (publish mode, and the Docker fallback in run mode); <paramref name="DataPath"/> is where the container
/// keeps its data, so that a volume there survives restarts.
/// </summary>
public sealed record BackingResource(string Name, BackingKind Kind, string Image, int TargetPort, string DataPath) : Resource(Name)
{
    /// <summary>The database the services use (Postgres only): Aspire's AddDatabase child resource.</summary>
    public string? Database { get; init; }

    /// <summary>The name of the generated password parameter, when the server has one.</summary>
    public string? PasswordParameter => Kind switch
    {
        BackingKind.Postgres or BackingKind.RabbitMq => $"{Name}-password",
        _ => null,
    };

    /// <summary>The user the connection string names, when the server has users.</summary>
    public string? UserName => Kind switch
    {
        BackingKind.Postgres => "postgres",
        BackingKind.RabbitMq => "wave",
        _ => null,
    };
}

/// <summary>
/// One of Wave's services: <paramref name="AssemblyName"/> is what runs (<c>dotnet AssemblyName.dll</c>),
/// <paramref name="ProjectPath"/> the project file relative to the repository root.
/// </summary>
public sealed record ProjectResource(string Name, string AssemblyName, string ProjectPath, ImmutableArray<ResourceReference> References)
    : Resource(Name)
{
    public IEnumerable<BackingResource> BackingReferences => References.Select(r => r.Target).OfType<BackingResource>();

    public IEnumerable<ProjectResource> ProjectReferences => References.Select(r => r.Target).OfType<ProjectResource>();
}

/// <summary>
/// A dependency edge. For a backing resource the consumer gets <c>ConnectionStrings__{ConnectionName}</c>; for a
/// project, <c>services__{name}__http__0</c> (Aspire's service discovery convention).
/// </summary>
public sealed record ResourceReference(Resource Target, string ConnectionName);

/// <summary>The whole application: what run mode starts and what publish mode writes.</summary>
public sealed record ApplicationModel(ImmutableArray<BackingResource> BackingResources, ImmutableArray<ProjectResource> Projects)
{
    /// <summary>Projects ordered so that each comes after every project it references.</summary>
    public ImmutableArray<ProjectResource> ProjectsInStartOrder()
    {
        var ordered = new List<ProjectResource>();
        var visiting = new HashSet<string>(StringComparer.Ordinal);
        void Visit(ProjectResource project)
        {
            if (ordered.Any(p => p.Name == project.Name))
            {
                return;
            }
            if (!visiting.Add(project.Name))
            {
                throw new InvalidOperationException($"project references form a cycle through '{project.Name}'");
            }
            foreach (var dependency in project.ProjectReferences)
            {
                Visit(Projects.Single(p => p.Name == dependency.Name));
            }
            ordered.Add(project);
        }
        foreach (var project in Projects)
        {
            Visit(project);
        }
        return [.. ordered];
    }
}
