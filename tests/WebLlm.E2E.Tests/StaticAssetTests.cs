using System.Net;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace WebLlm.E2E.Tests;

/// <summary>
/// What the browser is sent for the dashboard, asked for over plain HTTP as a browser would: the page names files that
/// exist, every script is JavaScript, compressed variants go to clients that accept them, fingerprinted files are cached
/// for good and the page never is, and a missing file is a plain 404.
/// </summary>
public abstract partial class StaticAssetTests(WebLlmAppFixture app, ITestOutputHelper output) : IDisposable
{
    private readonly HttpClient _http = new(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None })
    {
        BaseAddress = app.BaseAddress,
    };

    [Fact]
    public async Task The_page_names_only_files_that_exist_and_its_scripts_are_javascript()
    {
        var page = await GetPageAsync("/");

        Assert.DoesNotContain("#[", page); // an unreplaced placeholder such as blazor.webassembly#[.{fingerprint}].js
        Assert.Matches(ImportMap(), page); // the import map that maps dotnet.js etc. to their fingerprinted names
        var scripts = ScriptSource().Matches(page).Select(m => m.Groups["src"].Value).ToList();
        Assert.Contains(scripts, s => BlazorScript().IsMatch(s));
        foreach (var src in scripts.Concat(ImportMapTarget().Matches(page).Select(m => m.Groups["src"].Value)))
        {
            using var response = await _http.GetAsync(src.TrimStart('.', '/'));
            output.WriteLine($"{src}: {(int)response.StatusCode} {response.Content.Headers.ContentType}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        }
        foreach (var href in StylesheetHref().Matches(page).Select(m => m.Groups["href"].Value))
        {
            using var response = await _http.GetAsync(href);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/css", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task Dashboard_routes_get_the_page_and_it_is_revalidated_every_time()
    {
        foreach (var path in new[] { "/", "/runs/12345", "/playground" })
        {
            using var response = await _http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            // A cached page would name the fingerprinted files of the build before the last deployment.
            Assert.True(response.Headers.CacheControl?.NoCache, $"{path}: Cache-Control {response.Headers.CacheControl}");
        }
    }

    [Fact]
    public async Task Framework_files_come_compressed_with_their_own_content_type()
    {
        var page = await GetPageAsync("/");
        var blazor = ScriptSource().Matches(page).Select(m => m.Groups["src"].Value).Single(s => BlazorScript().IsMatch(s));
        string wasm = await AnyWasmFileAsync();

        foreach (var (path, type) in new[] { (blazor, "text/javascript"), (wasm, "application/wasm") })
        {
            var plain = await GetAsync(path, acceptEncoding: null);
            var gzip = await GetAsync(path, "gzip");
            output.WriteLine($"{path}: {plain.Length:N0} bytes, gzip {gzip.Length:N0}");
            Assert.Equal(type, gzip.Type);
            Assert.Equal("gzip", gzip.Encoding);
            Assert.Null(plain.Encoding);
        }

        // What only a publish does. The build compresses at the lowest level (its .wasm.gz can be larger than the .wasm),
        // and its manifest is a development one, served no-cache since its files change with every build.
        if (app.Layout == "publish")
        {
            foreach (var path in new[] { blazor, wasm })
            {
                var (plain, brotli) = (await GetAsync(path, acceptEncoding: null), await GetAsync(path, "br"));
                Assert.Equal("br", brotli.Encoding);
                Assert.True(brotli.Length < plain.Length * 0.6, $"{path}: Brotli {brotli.Length} bytes, plain {plain.Length}");
            }
            // The name with the fingerprint never changes content: cached for good, so a reload fetches only the page.
            var fingerprinted = await GetAsync(blazor, "gzip");
            Assert.Contains("immutable", fingerprinted.CacheControl);
        }
    }

    [Theory]
    [InlineData("/_framework/no-such-file.js")]
    [InlineData("/css/no-such-file.css")]
    [InlineData("/_framework/blazor.webassembly#[.{fingerprint}].js")]
    public async Task A_missing_file_is_a_plain_404_not_problem_json(string path)
    {
        using var response = await _http.GetAsync(path.Replace("#", "%23"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task An_unknown_api_route_is_still_problem_json()
    {
        using var response = await _http.GetAsync("/api/no-such-thing.js");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<string> GetPageAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>A .wasm file the page's runtime will load: named in the boot configuration inside dotnet.js.</summary>
    private async Task<string> AnyWasmFileAsync()
    {
        var page = await GetPageAsync("/");
        var dotnetJs = ImportMapTarget().Matches(page).Select(m => m.Groups["src"].Value).FirstOrDefault(s => s.Contains("/dotnet.") && !s.Contains(".native.") && !s.Contains(".runtime."))
            ?? "_framework/dotnet.js";
        using var response = await _http.GetAsync(dotnetJs.TrimStart('.', '/'));
        response.EnsureSuccessStatusCode();
        var script = await response.Content.ReadAsStringAsync();
        var name = WasmName().Matches(script).FirstOrDefault(m => !m.Value.StartsWith("dotnet.", StringComparison.Ordinal));
        Assert.True(name is not null, $"{dotnetJs} names no assembly's .wasm file");
        return "_framework/" + name.Value;
    }

    public void Dispose() => _http.Dispose();

    private async Task<(long Length, string? Type, string? Encoding, string CacheControl)> GetAsync(string path, string? acceptEncoding)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path.TrimStart('.', '/'));
        if (acceptEncoding is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        }
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync();
        return (body.Length, response.Content.Headers.ContentType?.MediaType, response.Content.Headers.ContentEncoding.SingleOrDefault(),
            response.Headers.CacheControl?.ToString() ?? "");
    }

    [GeneratedRegex("""<script src="(?<src>[^"]+)"></script>""")]
    private static partial Regex ScriptSource();

    [GeneratedRegex("""<link rel="stylesheet" href="(?<href>[^"]+)" />""")]
    private static partial Regex StylesheetHref();

    [GeneratedRegex("""_framework/blazor\.webassembly\.[a-z0-9]+\.js$""")]
    private static partial Regex BlazorScript();

    [GeneratedRegex("""<script type="importmap">\s*\{\s*"imports"\s*:\s*\{\s*"[^"]+"\s*:""")]
    private static partial Regex ImportMap();

    // The targets of the import map's "imports": "./_framework/dotnet.js": "./_framework/dotnet.<hash>.js".
    [GeneratedRegex(""""\./_framework/[^"]+\.js"\s*:\s*"(?<src>\./_framework/[^"]+\.js)"""")]
    private static partial Regex ImportMapTarget();

    [GeneratedRegex("""[A-Za-z0-9_.]+\.[a-z0-9]{10}\.wasm""")]
    private static partial Regex WasmName();

    [Collection(BrowserCollection.Name)]
    public sealed class Build(WebLlmAppFixture app, ITestOutputHelper output) : StaticAssetTests(app, output);

    [Collection(PublishedBrowserCollection.Name)]
    public sealed class Published(PublishedAppFixture app, ITestOutputHelper output) : StaticAssetTests(app, output);
}
