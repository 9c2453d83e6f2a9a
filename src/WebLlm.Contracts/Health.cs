namespace WebLlm.Contracts;

/// <summary><c>GET /api/health</c>: the server answers and its database is reachable.</summary>
public sealed record HealthDto(string Status, bool Database);
