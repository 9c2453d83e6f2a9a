namespace WebLlm.Contracts;

/// <summary>What <c>GET /api/info</c> returns: enough for the UI to say the server is up and what it runs on.</summary>
public sealed record ServerInfo(string Version, string Device, int Threads, string TorchVersion, string DataDirectory);
