namespace Wave.Core.Scans;

/// <summary>A scan that could not be completed; the message says why and is what the scan record reports.</summary>
public sealed class ScanException(string message, Exception? inner = null) : Exception(message, inner);
