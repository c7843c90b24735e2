using Wave.AppHost.Model;

#pragma warning disable CA1707 // the names follow Aspire's generated Projects.Xxx_Yyy classes
namespace Projects;

public sealed class Wave_Api : IProjectMetadata
{
    public static string AssemblyName => "Wave.Api";
    public static string ProjectPath => "Wave.Api/Wave.Api.csproj";
}

public sealed class Wave_RegistryProxy : IProjectMetadata
{
    public static string AssemblyName => "Wave.RegistryProxy";
    public static string ProjectPath => "Wave.RegistryProxy/Wave.RegistryProxy.csproj";
}

public sealed class Wave_Builder : IProjectMetadata
{
    public static string AssemblyName => "Wave.Builder";
    public static string ProjectPath => "Wave.Builder/Wave.Builder.csproj";
}
