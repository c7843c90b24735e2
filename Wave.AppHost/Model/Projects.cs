namespace Wave.AppHost.Model;

/// <summary>What Aspire's AppHost SDK generates per referenced project (the <c>Projects</c> namespace), written by hand.</summary>
public interface IProjectMetadata
{
    static abstract string AssemblyName { get; }

    /// <summary>The project file relative to the repository root.</summary>
    static abstract string ProjectPath { get; }
}
