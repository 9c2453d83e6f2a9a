namespace WebLlm.Server;

public static class ContentRoot
{
    /// <summary>
    /// The options the host is built with. ASP.NET Core takes the working directory as the content root, so
    /// <c>dotnet out/WebLlm.Server.dll</c> started from anywhere but <c>out/</c> found neither <c>wwwroot</c> (a 404 for
    /// the dashboard) nor <c>appsettings.json</c>. A publish folder (it holds <c>wwwroot</c>) is its own content root
    /// unless one is given (<c>--contentRoot</c>, <c>ASPNETCORE_CONTENTROOT</c>); a build's output has no <c>wwwroot</c>
    /// (its static web assets manifest points into the Client's folders), so <c>dotnet run</c> keeps the project folder.
    /// </summary>
    public static WebApplicationOptions Options(string[] args)
    {
        bool given = args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_CONTENTROOT"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOTNET_CONTENTROOT"));
        bool published = Directory.Exists(Path.Combine(AppContext.BaseDirectory, "wwwroot"));
        return new WebApplicationOptions { Args = args, ContentRootPath = !given && published ? AppContext.BaseDirectory : null };
    }
}
