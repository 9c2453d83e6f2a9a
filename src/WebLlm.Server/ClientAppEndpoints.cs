namespace WebLlm.Server;

public static class ClientAppEndpoints
{
    /// <summary>
    /// Serves the dashboard (WebLlm.Client) the same way from a build (<c>dotnet run</c>) and from a publish folder:
    /// every file is an endpoint of the build's static assets manifest (<c>WebLlm.Server.staticwebassets.endpoints.json</c>),
    /// under its plain and its fingerprinted name, with its content type, ETag, Brotli/gzip variants chosen by
    /// <c>Accept-Encoding</c>, and year-long <c>immutable</c> caching for fingerprinted names. Plain static files
    /// (UseStaticFiles) know nothing of fingerprints: a published folder holds only <c>blazor.webassembly.&lt;hash&gt;.js</c>.
    /// </summary>
    public static WebApplication MapClientApp(this WebApplication app)
    {
        app.MapStaticAssets();

        // The dashboard's own routes (/runs/3, /playground) get the page. It names this build's fingerprinted files, so a
        // browser must ask again each time (no-cache revalidates by ETag) or it would run an old build against a new server.
        app.MapFallbackToFile("index.html", new StaticFileOptions
        {
            OnPrepareResponse = file => file.Context.Response.Headers.CacheControl = "no-cache",
        });

        // A file that is not there is a plain 404: a ProblemDetails body for a <script> would be refused as the wrong MIME
        // type and hide the real cause. The API's own 404 (MapApiNotFound) stays ProblemDetails.
        app.MapFallback("{**path:file}", () => TypedResults.Text("Not found\n", "text/plain", statusCode: StatusCodes.Status404NotFound));
        return app;
    }
}
