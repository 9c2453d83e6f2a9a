using Microsoft.AspNetCore.Http.Connections;
using WebLlm.Contracts;

namespace WebLlm.Server.Live;

public static class LiveExtensions
{
    /// <summary>
    /// The live pipeline: the one SQLite writer, the hub and its per-connection queues, the pushes, the system sampler.
    /// Register it before the services that post to it: hosted services stop in reverse order, so the writer stops
    /// last and drains everything posted (the training service's last checkpoint among it).
    /// </summary>
    public static WebApplicationBuilder AddLive(this WebApplicationBuilder builder)
    {
        // camelCase JSON by default; the enums carry their own string converters. Clients only send small invocations.
        builder.Services.AddSignalR(o => o.MaximumReceiveMessageSize = HubReceiveLimit);
        builder.Services.AddSingleton<HubSubscribers>();
        builder.Services.AddSingleton<MetricWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MetricWriter>());
        builder.Services.AddSingleton<Broadcaster>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Broadcaster>());
        builder.Services.AddHostedService<SystemSampler>();
        return builder;
    }

    private const long HubBufferBytes = 64 * 1024;
    private const long HubReceiveLimit = 32 * 1024;

    public static IEndpointRouteBuilder MapTrainingHub(this IEndpointRouteBuilder app)
    {
        app.MapHub<TrainingHub>(ApiRoutes.TrainingHub, o =>
        {
            o.Transports = HttpTransportType.WebSockets | HttpTransportType.LongPolling | HttpTransportType.ServerSentEvents;
            // Per connection, set here rather than left to defaults: what the server buffers for a client that reads
            // slowly (or never) before writes to it wait, and what it takes from one.
            o.TransportMaxBufferSize = HubBufferBytes;
            o.ApplicationMaxBufferSize = HubBufferBytes;
        });
        return app;
    }
}
