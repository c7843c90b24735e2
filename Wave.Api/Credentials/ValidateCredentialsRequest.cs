namespace Wave.Api.Credentials;

/// <summary>The body of <c>POST /validate-creds</c>.</summary>
public sealed record ValidateCredentialsRequest(string? UserName, string? Password, string? Registry);
