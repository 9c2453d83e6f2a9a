using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using WebLlm.Contracts;

namespace WebLlm.Server.Security;

/// <summary>
/// Secure defaults: loopback unless configured (a non-loopback address needs an API key), API key mode, no state
/// change from a cross-site form post, rate limits (429 + Retry-After), request body limits, security headers.
/// Host filtering (AllowedHosts, loopback names in appsettings.json) is ASP.NET Core's own.
/// </summary>
public static class SecurityExtensions
{
    /// <summary>Header a same-site script sets on form, multipart and text/plain requests; a cross-site HTML form cannot.</summary>
    public const string RequestHeader = "X-WebLlm-Request";

    /// <summary>The one query parameter a key may travel in: the hub's WebSocket / SSE connection (browsers cannot set headers there).</summary>
    public const string AccessTokenQuery = "access_token";

    private static readonly string[] ProtectedPrefixes = ["/api", "/v1", "/hubs"];

    public static WebApplicationBuilder AddSecurity(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(WebLlmOptions.Section).Get<WebLlmOptions>() ?? new WebLlmOptions();
        if (string.IsNullOrEmpty(options.ApiKey) && NonLoopbackUrls(builder.Configuration).FirstOrDefault() is { } exposed)
            throw new InvalidOperationException(
                $"Refusing to listen on {exposed} without an API key: a non-loopback address exposes training and inference to the network. " +
                "Set WebLlm:ApiKey (e.g. --WebLlm:ApiKey=<long random string> or the environment variable WebLlm__ApiKey) and list the host names " +
                "clients use in AllowedHosts, or listen on 127.0.0.1 / localhost only.");

        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            // Two stages: a token bucket per client and kind (mutations, reads), then one concurrency gate shared by
            // every API read, so that any number of polling clients can keep at most MaxConcurrentReads threads busy
            // and the training thread keeps the rest of the cores.
            o.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, string>(ctx =>
                {
                    var limits = ctx.RequestServices.GetRequiredService<IOptions<WebLlmOptions>>().Value.RateLimit;
                    string client = ctx.Connection.RemoteIpAddress?.ToString() ?? "local";
                    return KindOf(ctx.Request) switch
                    {
                        RequestKind.Mutation => Bucket("write:" + client, limits.Burst, limits.PerSecond),
                        RequestKind.Read => Bucket("read:" + client, limits.ReadBurst, limits.ReadPerSecond),
                        _ => RateLimitPartition.GetNoLimiter("free"),
                    };
                }),
                PartitionedRateLimiter.Create<HttpContext, string>(ctx =>
                {
                    if (KindOf(ctx.Request) != RequestKind.Read) return RateLimitPartition.GetNoLimiter("free");
                    var limits = ctx.RequestServices.GetRequiredService<IOptions<WebLlmOptions>>().Value.RateLimit;
                    return RateLimitPartition.GetConcurrencyLimiter("reads", _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = limits.MaxConcurrentReads,
                        QueueLimit = limits.ReadQueue,
                        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    });
                }));
            o.OnRejected = async (ctx, ct) =>
            {
                double seconds = ctx.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? Math.Max(1, Math.Ceiling(retry.TotalSeconds)) : 1;
                ctx.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await Problems.Of(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited, $"Too many requests; retry after {seconds} s.", "Too many requests")
                    .ExecuteAsync(ctx.HttpContext);
            };
        });
        return builder;
    }

    /// <summary>Security headers, API key, cross-site checks, body limits and rate limits, in that order.</summary>
    public static WebApplication UseSecurity(this WebApplication app)
    {
        app.Use(async (ctx, next) =>
        {
            var headers = ctx.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            // frame-ancestors only: a full policy would have to allow what Blazor WebAssembly needs ('wasm-unsafe-eval', ...).
            headers.ContentSecurityPolicy = "frame-ancestors 'none'";
            headers["Referrer-Policy"] = "no-referrer";
            await next(ctx);
        });
        app.Use(async (ctx, next) =>
        {
            var settings = ctx.RequestServices.GetRequiredService<IOptions<WebLlmOptions>>().Value;
            bool authorized = string.IsNullOrEmpty(settings.ApiKey) ? false : HasValidKey(ctx.Request, settings.ApiKey);
            if (!string.IsNullOrEmpty(settings.ApiKey) && !authorized && IsProtected(ctx.Request.Path))
            {
                ctx.Response.Headers.WWWAuthenticate = "Bearer";
                await Problems.Of(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized,
                    "This server requires an API key: send Authorization: Bearer <key>.", "Unauthorized").ExecuteAsync(ctx);
                return;
            }
            if (IsMutating(ctx.Request.Method) && !authorized && !IsHub(ctx.Request.Path) && CrossSiteProblem(ctx.Request) is { } why)
            {
                await Problems.Of(StatusCodes.Status403Forbidden, ErrorCodes.CrossSiteRequest, why, "Forbidden").ExecuteAsync(ctx);
                return;
            }
            if (ctx.Request.ContentLength > settings.MaxRequestBodyBytes && !IsUpload(ctx.Request))
            {
                await Problems.Of(StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge,
                    $"Request bodies are limited to {settings.MaxRequestBodyBytes:N0} bytes (WebLlm:MaxRequestBodyBytes).", "Payload too large").ExecuteAsync(ctx);
                return;
            }
            // Chunked bodies: Kestrel stops reading at the limit (the upload endpoint raises it for itself).
            if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size && !IsUpload(ctx.Request))
                size.MaxRequestBodySize = settings.MaxRequestBodyBytes;
            await next(ctx);
        });
        app.UseRateLimiter();
        if (app.Services.GetRequiredService<IOptions<WebLlmOptions>>().Value.Testing.ReadDelayMs is > 0 and var delay)
        {
            // Test-only: hold each API read inside the read gate, so a test can fill the gate without racing the server.
            app.Use(async (ctx, next) =>
            {
                if (KindOf(ctx.Request) == RequestKind.Read) await Task.Delay(delay, ctx.RequestAborted);
                await next(ctx);
            });
        }
        return app;
    }

    private enum RequestKind { Free, Read, Mutation }

    /// <summary>
    /// The hub is free (it has no state-changing methods; long polling POSTs every message), and so are the UI's static
    /// files and /health; other POST/PUT/PATCH/DELETE are mutations; GET/HEAD under /api and /v1 are reads.
    /// </summary>
    private static RequestKind KindOf(HttpRequest r) =>
        IsHub(r.Path) ? RequestKind.Free
        : IsMutating(r.Method) ? RequestKind.Mutation
        : IsProtected(r.Path) ? RequestKind.Read
        : RequestKind.Free;

    /// <summary>Refills every 100 ms from 10 per second up; below that one token per 1/rate seconds (rounding up to a token per 100 ms would allow 10/s).</summary>
    private static RateLimitPartition<string> Bucket(string key, int burst, double perSecond) =>
        RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond >= 10 ? (int)Math.Round(perSecond / 10) : 1,
            ReplenishmentPeriod = perSecond >= 10 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1 / perSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        });

    private static bool IsMutating(string method) => HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method);

    private static bool IsProtected(PathString path) => ProtectedPrefixes.Any(p => path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase));

    private static bool IsHub(PathString path) => path.StartsWithSegments("/hubs", StringComparison.OrdinalIgnoreCase);

    private static bool IsUpload(HttpRequest r) => HttpMethods.IsPost(r.Method) && r.Path.Equals(ApiRoutes.Datasets, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A browser can send form, multipart and text/plain bodies (and bodiless requests) cross-site without a CORS
    /// preflight. Those need <see cref="RequestHeader"/> (a cross-site form cannot set it) unless the browser itself
    /// says the request is same-origin (<c>Sec-Fetch-Site: same-origin</c>). A bodiless request is refused only when
    /// the browser says it is cross-site (Sec-Fetch-Site or a foreign Origin), so curl and scripts keep working.
    /// JSON bodies need a preflight, which this server never grants.
    /// </summary>
    private static string? CrossSiteProblem(HttpRequest r)
    {
        if (r.Headers.ContainsKey(RequestHeader)) return null;
        string site = r.Headers["Sec-Fetch-Site"].ToString();
        if (site is "same-origin" or "none") return null;
        string? origin = r.Headers.Origin.ToString() is { Length: > 0 } o ? o : null;
        bool foreignOrigin = origin is not null && (!Uri.TryCreate(origin, UriKind.Absolute, out var u) || !string.Equals(u.Authority, r.Host.Value, StringComparison.OrdinalIgnoreCase));
        bool crossSite = site is "cross-site" or "same-site" || foreignOrigin;
        string type = r.ContentType?.Split(';')[0].Trim().ToLowerInvariant() ?? "";
        bool simpleBody = type is "application/x-www-form-urlencoded" or "multipart/form-data" or "text/plain";
        if (simpleBody) return $"A {type} request must carry the {RequestHeader}: 1 header (or an API key): cross-site forms cannot set it.";
        if (crossSite && type.Length == 0) return $"Cross-site request refused; send the {RequestHeader}: 1 header from a same-site script.";
        return null;
    }

    /// <summary>Authorization: Bearer everywhere; access_token only for the hub. Compared in constant time.</summary>
    private static bool HasValidKey(HttpRequest r, string key)
    {
        string? given = null;
        string auth = r.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) given = auth[7..].Trim();
        else if (IsHub(r.Path) && r.Query.TryGetValue(AccessTokenQuery, out var q)) given = q.ToString();
        if (given is null) return false;
        // Hashing first makes both sides the same length, so the comparison time says nothing about the key.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
    }

    /// <summary>Configured listen addresses (Urls / ASPNETCORE_URLS / --urls and Kestrel endpoints) that are not loopback.</summary>
    public static IEnumerable<string> NonLoopbackUrls(IConfiguration configuration)
    {
        var urls = (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Concat(configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>());
        return urls.Where(url => !IsLoopback(url));
    }

    public static bool IsLoopback(string url)
    {
        // Kestrel's wildcards (*, +, 0.0.0.0, [::]) bind every interface.
        string withHost = url.Replace("://*", "://wildcard.invalid", StringComparison.Ordinal).Replace("://+", "://wildcard.invalid", StringComparison.Ordinal);
        if (!Uri.TryCreate(withHost, UriKind.Absolute, out var uri)) return false;
        if (uri.IsLoopback) return true; // localhost, 127.0.0.0/8, [::1]
        return IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }
}
