namespace Wave.Builder.Sif;

/// <summary>A SIF build step failed: a layer that cannot be applied, a missing or failing tool, an image without the platform asked for.</summary>
public sealed class SifBuildException(string message, Exception? inner = null) : Exception(message, inner);
